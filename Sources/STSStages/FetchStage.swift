import STSCore
import STSFetch
import STSStage

/// The sts-fetch stage: RFC 8461 §3.3 policy fetch. For records whose `txt.status` is `found`, fetches
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt` and adds `fetch`:
///
///     {"status": "ok", "url": "...", "http_status": 200, "content_type": "text/plain", "body": "...", "bytes": 96, "ip": "...", "timings_ms": {...}}
///     {"status": "error", "url": "...", "http_status": 404, "error": {"kind": "sts-policy-fetch-error", "reason": "http-status", "message": "..."}}
///
/// Passed on untouched: records without a found TXT record, records that already carry `fetch`, and
/// records whose caller says the fetch is not needed — `cache.fresh` is true and `cache.policy_id` is
/// the discovered id (the cached policy is current), or `cache.backoff_id` is the discovered id (a
/// fetch for it failed moments ago).
public struct FetchStage: RecordStage {
    public let fetcher: PolicyFetcher

    public init(fetcher: PolicyFetcher) {
        self.fetcher = fetcher
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        guard Self.needsFetch(record) else { return record }
        var record = record
        switch DomainField.normalized(in: record) {
        case .failure(let error):
            record["error"] = error.json
        case .success(let domain):
            record["fetch"] = await fetcher.fetch(domain: domain).json
        }
        return record
    }

    public static func needsFetch(_ record: JSONObject) -> Bool {
        guard record["fetch"] == nil, let txt = record["txt"], txt["status"]?.stringValue == "found",
            let id = txt["id"]?.stringValue
        else { return false }
        if let cache = record["cache"] {
            if cache["fresh"]?.boolValue == true && cache["policy_id"]?.stringValue == id { return false }
            if cache["backoff_id"]?.stringValue == id { return false }
        }
        return true
    }
}
