import STSCore

/// Why a record is passed on without a fetch (nil from `reason(for:)`: fetch it).
///
/// A record is fetched when `txt.status` is `"found"` with a string `txt.id`, it carries no `fetch`
/// yet, and its `cache` (set by the caller, e.g. sts-socketmapd) does not say the fetch is needless:
/// - `cache.fresh == true` and `cache.policy_id == txt.id`: the cached policy is the current one and
///   was fetched recently enough;
/// - `cache.backoff_id == txt.id`: a fetch for this very id failed a moment ago (at most one failed
///   fetch per domain and id in a while).
public enum FetchSkip: String, Sendable, Equatable {
    case noPolicy = "no-policy"
    case alreadyFetched = "already-fetched"
    case cachedFresh = "cached-fresh"
    case backoff

    public static func reason(for record: JSONObject) -> FetchSkip? {
        if record["fetch"] != nil { return .alreadyFetched }
        guard let txt = record["txt"], txt["status"]?.stringValue == "found", let id = txt["id"]?.stringValue else { return .noPolicy }
        if let cache = record["cache"] {
            if cache["fresh"]?.boolValue == true && cache["policy_id"]?.stringValue == id { return .cachedFresh }
            if cache["backoff_id"]?.stringValue == id { return .backoff }
        }
        return nil
    }
}
