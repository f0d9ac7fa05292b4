import STSCore
import STSFetch
import STSStage

/// The sts-fetch stage: RFC 8461 §3.3 policy fetch. For records whose `txt.status` is `found`, fetches
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt` and adds `fetch`:
///
///     {"status": "ok", "url": "...", "http_status": 200, "content_type": "text/plain", "body": "...", "bytes": 96, "ip": "...", "timings_ms": {...}}
///     {"status": "error", "url": "...", "http_status": 404, "error": {"kind": "sts-policy-fetch-error", "reason": "http-status", "message": "..."}}
///
/// Records `FetchSkip` names (no policy found, already fetched, cached policy current, fetch backing
/// off) pass through untouched. A record without a usable `domain` gets a top-level `error`.
public struct FetchStage: RecordStage {
    public let fetcher: PolicyFetcher

    public init(fetcher: PolicyFetcher) {
        self.fetcher = fetcher
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        guard FetchSkip.reason(for: record) == nil else { return record }
        var record = record
        guard let domain = DomainField.require(in: &record) else { return record }
        record["fetch"] = await fetcher.fetch(domain: domain, addresses: Self.policyHostAddresses(in: record, domain: domain)).json
        return record
    }

    /// The addresses sts-dns found for the policy host (`policy_host`), when the record has them for
    /// this domain's policy host; each must be an address literal, at most 16 of them.
    static func policyHostAddresses(in record: JSONObject, domain: String) -> [String] {
        guard let host = record["policy_host"], host["name"]?.stringValue == FetchConfiguration.policyHost(for: domain),
            case .array(let values)? = host["addresses"]
        else { return [] }
        return Array(values.prefix(16).compactMap { $0.stringValue.flatMap(IPAddress.canonical) })
    }
}
