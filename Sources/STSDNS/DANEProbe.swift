import STSCore

/// Finds out whether DANE (RFC 7672) applies to mail for a domain: DNSSEC-validated MX records, then
/// the TLSA records at `_25._tcp.<host>` of each MX host, asked concurrently.
///
/// The decision from the answers is `DANEProbe.evaluate`, a pure function; this type only asks.
public struct DANEProbe: Sendable {
    public let resolver: UnboundResolver
    /// MX hosts looked at, by preference; a domain with more is judged on these.
    public let maxHosts: Int

    public init(resolver: UnboundResolver, maxHosts: Int = 16) {
        self.resolver = resolver
        self.maxHosts = maxHosts
    }

    public func status(of domain: String) async -> DANEStatus {
        guard resolver.configuration.trustAnchorFile != nil else {
            return .absent(reason: .noValidation, message: "no DNSSEC trust anchor is configured, so DANE is not looked up", hosts: [], ttl: 0)
        }
        let mx = await resolver.resolve(domain, type: .mx)
        let hosts: [String]
        switch Self.mxHosts(domain: domain, answer: mx, limit: maxHosts) {
        case .decided(let status):
            return status
        case .hosts(let names):
            hosts = names
        }
        let answers = await withTaskGroup(of: (Int, Result<DNSAnswer, STSError>).self) { group in
            for (index, host) in hosts.enumerated() {
                group.addTask { (index, await resolver.resolve("_25._tcp.\(host)", type: .tlsa)) }
            }
            var answers = [Result<DNSAnswer, STSError>?](repeating: nil, count: hosts.count)
            for await (index, answer) in group { answers[index] = answer }
            return answers.compactMap { $0 }
        }
        guard case .success(let mxAnswer) = mx else { return .undeterminable(STSError(.dnsError, "MX lookup failed")) }
        return Self.evaluate(hosts: hosts, tlsa: answers, mxTTL: mxAnswer.ttl)
    }

    /// What the MX answer leads to: a decision already, or the hosts to ask TLSA records for.
    public enum MXOutcome: Equatable {
        case decided(DANEStatus)
        case hosts([String])
    }

    public static func mxHosts(domain: String, answer lookup: Result<DNSAnswer, STSError>, limit: Int) -> MXOutcome {
        let answer: DNSAnswer
        switch lookup {
        case .failure(let error):
            return .decided(.undeterminable(STSError(error.kind, "MX lookup for \(domain): \(error.message)")))
        case .success(let value):
            answer = value
        }
        if answer.bogus {
            return .decided(.undeterminable(STSError(.dnsBogus, "DNSSEC validation of the MX records of \(domain) failed: \(answer.whyBogus ?? "bogus")")))
        }
        switch answer.rcode {
        case DNSAnswer.noError, DNSAnswer.nxDomain:
            break
        case DNSAnswer.servFail:
            return .decided(.undeterminable(STSError(.dnsServfail, "the resolver answered SERVFAIL for the MX records of \(domain)")))
        default:
            return .decided(.undeterminable(STSError(.dnsError, "the resolver answered \(DNSAnswer.rcodeName(answer.rcode)) for the MX records of \(domain)")))
        }
        guard answer.secure else {
            return .decided(.absent(reason: .insecureMX, message: "the MX records of \(domain) are not DNSSEC-signed", hosts: [], ttl: answer.ttl))
        }
        if answer.rcode == DNSAnswer.nxDomain {
            return .decided(.absent(reason: .nxdomain, message: "\(domain) does not exist (DNSSEC-proven)", hosts: [], ttl: answer.ttl))
        }
        // No MX records: the domain itself is the mail host (RFC 5321 §5.1).
        guard !answer.records.isEmpty else { return .hosts([domain]) }
        var exchanges: [(preference: Int, exchange: String)] = []
        for rdata in answer.records {
            guard let mx = MXRData.parse(rdata) else {
                return .decided(.undeterminable(STSError(.dnsError, "malformed MX record data for \(domain)")))
            }
            exchanges.append(mx)
        }
        if exchanges.count == 1, exchanges[0].exchange.isEmpty {
            return .decided(.absent(reason: .nullMX, message: "\(domain) publishes a null MX: it accepts no mail", hosts: [], ttl: answer.ttl))
        }
        var seen = Set<String>()
        let hosts = exchanges.sorted { ($0.preference, $0.exchange) < ($1.preference, $1.exchange) }
            .map(\.exchange)
            .filter { DomainName.isValidHostname($0) && seen.insert($0).inserted }
        guard !hosts.isEmpty else {
            return .decided(.undeterminable(STSError(.dnsError, "no usable MX host name for \(domain)")))
        }
        return .hosts(Array(hosts.prefix(limit)))
    }

    /// The status from the signed MX hosts and their TLSA answers (same order). Any failed or bogus
    /// TLSA lookup makes the status undeterminable: a host that might have DANE must not be judged by
    /// MTA-STS alone.
    public static func evaluate(hosts: [String], tlsa: [Result<DNSAnswer, STSError>], mxTTL: Int) -> DANEStatus {
        var results: [DANEHost] = []
        var ttl = mxTTL
        for (host, lookup) in zip(hosts, tlsa) {
            let qname = "_25._tcp.\(host)"
            let answer: DNSAnswer
            switch lookup {
            case .failure(let error):
                return .undeterminable(STSError(error.kind, "TLSA lookup for \(qname): \(error.message)"))
            case .success(let value):
                answer = value
            }
            if answer.bogus {
                return .undeterminable(STSError(.dnsBogus, "DNSSEC validation of \(qname) failed: \(answer.whyBogus ?? "bogus")"))
            }
            guard answer.rcode == DNSAnswer.noError || answer.rcode == DNSAnswer.nxDomain else {
                let kind: ErrorKind = answer.rcode == DNSAnswer.servFail ? .dnsServfail : .dnsError
                return .undeterminable(STSError(kind, "the resolver answered \(DNSAnswer.rcodeName(answer.rcode)) for \(qname)"))
            }
            ttl = min(ttl, answer.ttl)
            guard answer.secure else {
                results.append(DANEHost(host: host, tlsa: .insecure))
                continue
            }
            let records = answer.records.compactMap(TLSARecord.init(rdata:))
            if records.isEmpty {
                results.append(DANEHost(host: host, tlsa: .none))
            } else {
                let usable = records.contains(where: \.isUsableForSMTP)
                results.append(DANEHost(host: host, tlsa: usable ? .usable : .unusable, records: records.map(\.text)))
            }
        }
        if results.contains(where: { $0.tlsa == .usable }) {
            return .usable(hosts: results, ttl: ttl)
        }
        return .absent(reason: .noTLSA, message: "no MX host has a usable DNSSEC-signed TLSA record", hosts: results, ttl: ttl)
    }
}
