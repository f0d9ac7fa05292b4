import STSCore
import STSDNS
import STSStage

/// The sts-dns stage: RFC 8461 §3.1 policy discovery. Reads `domain`, asks for the TXT records at
/// `_mta-sts.<domain>` and adds `txt`:
///
///     {"status": "found", "id": "...", "record": "v=STSv1; id=...;", "ttl": 300, ...}
///     {"status": "none", "reason": "nxdomain" | "nodata" | "no-sts-record" | "multiple-records" | "invalid-record", "message": "..."}
///     {"status": "error", "error": {"kind": "dns-servfail" | "dns-timeout" | "dns-bogus" | "dns-error", "message": "..."}}
///
/// When a policy is found it also adds `policy_host`, the addresses of `mta-sts.<domain>` (A and AAAA,
/// asked through the same resolver), so that sts-fetch connects to them without a lookup of its own:
///
///     {"name": "mta-sts.example.com", "addresses": ["192.0.2.1", "2001:db8::1"]}
///
/// (`addresses` is empty when neither lookup gave any; sts-fetch then looks the name up itself, and
/// reports what fails.)
///
/// With `dane`, it also adds `dane`: whether DANE (RFC 7672) applies to the domain's MX hosts, asked at
/// the same time (see `DANEStatus.json`).
///
/// A record without a usable `domain` gets a top-level `error` instead.
public struct DiscoveryStage: RecordStage {
    public let resolver: UnboundResolver
    public let dane: DANEProbe?

    public init(resolver: UnboundResolver, dane: Bool = false) {
        self.resolver = resolver
        self.dane = dane ? DANEProbe(resolver: resolver) : nil
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        var record = record
        guard let domain = DomainField.require(in: &record) else { return record }
        if let dane {
            async let daneStatus = dane.status(of: domain)
            record["txt"] = await discover(domain)
            record["dane"] = await daneStatus.json
        } else {
            record["txt"] = await discover(domain)
        }
        if record["txt"]?["status"]?.stringValue == "found" {
            record["policy_host"] = await policyHost(of: domain)
        }
        return record
    }

    /// The `policy_host` value: the addresses of `mta-sts.<domain>` (see `PolicyHostLookup`).
    public func policyHost(of domain: String) async -> JSONValue {
        let name = "mta-sts.\(domain)"
        let addresses = await PolicyHostLookup(resolver: resolver).addresses(of: name)
        return ["name": .string(name), "addresses": .array(addresses.map(JSONValue.string))]
    }

    /// The `txt` value for a normalised domain.
    public func discover(_ domain: String) async -> JSONValue {
        let qname = "_mta-sts.\(domain)"
        let validating = resolver.configuration.trustAnchorFile != nil
        switch await resolver.resolve(qname, type: .txt) {
        case .failure(let error):
            return ["status": "error", "name": .string(qname), "error": error.json]
        case .success(let answer):
            if answer.bogus {
                let why = answer.whyBogus ?? "validation failed"
                return ["status": "error", "name": .string(qname), "error": STSError(.dnsBogus, "DNSSEC validation of \(qname) failed: \(why)").json]
            }
            var result: JSONObject
            switch answer.rcode {
            case DNSAnswer.nxDomain:
                result = ["status": "none", "reason": .string(NoPolicyReason.nxdomain.rawValue), "message": .string("\(qname) does not exist")]
            case DNSAnswer.noError:
                var records: [[UInt8]] = []
                for rdata in answer.records {
                    guard let strings = TXTRData.characterStrings(rdata) else {
                        return ["status": "error", "name": .string(qname), "error": STSError(.dnsError, "malformed TXT record data at \(qname)").json]
                    }
                    records.append(TXTDiscovery.concatenate(strings))
                }
                result = Self.render(TXTDiscovery.evaluate(records))
                if !records.isEmpty {
                    result["records"] = .array(records.map { .string(String(decoding: $0, as: UTF8.self)) })
                }
            case DNSAnswer.servFail:
                return ["status": "error", "name": .string(qname), "error": STSError(.dnsServfail, "the resolver answered SERVFAIL for \(qname)").json]
            default:
                return ["status": "error", "name": .string(qname), "error": STSError(.dnsError, "the resolver answered \(DNSAnswer.rcodeName(answer.rcode)) for \(qname)").json]
            }
            result["name"] = .string(qname)
            if let canonical = answer.canonicalName?.lowercased(), canonical.trimmingSuffix(".") != qname {
                result["cname"] = .string(canonical.trimmingSuffix("."))
            }
            result["ttl"] = .int(answer.ttl)
            if validating { result["dnssec"] = answer.secure ? "secure" : "insecure" }
            return .object(result)
        }
    }

    static func render(_ outcome: TXTDiscoveryOutcome) -> JSONObject {
        switch outcome {
        case .found(let record):
            var extensions = JSONObject()
            for field in record.extensions { extensions[field.name] = .string(field.value) }
            var result: JSONObject = ["status": "found", "id": .string(record.id), "record": .string(record.text)]
            if !extensions.isEmpty { result["extensions"] = .object(extensions) }
            return result
        case .none(let reason, let message):
            return ["status": "none", "reason": .string(reason.rawValue), "message": .string(message)]
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
