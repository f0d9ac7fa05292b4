import STSCache
import STSCore
import STSStage

/// What the sts-cache stages share: the `cache` values they write.
public enum CacheStage {
    /// `{"status": "error", "error": {...}}`: a per-record failure; the stage goes on.
    public static func failure(_ error: STSError) -> JSONValue {
        ["status": "error", "error": error.json]
    }

    /// The `cache` value for a cached entry (`status: hit`).
    ///
    /// `fresh` is the signal sts-fetch skips the fetch on. With a discovered TXT id it means the
    /// entry holds an unexpired policy under that very id that need not be fetched again
    /// (`CacheRules.needsFetch`); without one it means the entry is within `cache_grace` of its last
    /// confirmation (`CacheRules.freshness`). `backoff_id` names the id whose fetch failed less than
    /// the back-off ago, which sts-fetch also skips.
    public static func hit(_ entry: CacheEntry, discoveredID: String?, rules: CacheRules, at now: Int64) -> JSONValue {
        let expired = entry.isExpired(at: now)
        let fresh: Bool
        if let discoveredID {
            fresh = !expired && !entry.isNegative && entry.policyID == discoveredID
                && !rules.needsFetch(entry, discoveredID: discoveredID, at: now)
        } else {
            fresh = rules.freshness(of: entry, at: now) == .fresh
        }
        var value: JSONObject = ["status": "hit", "fresh": .bool(fresh), "negative": .bool(entry.isNegative), "expired": .bool(expired)]
        if let id = entry.policyID { value["policy_id"] = .string(id) }
        value["expires_at"] = .int(entry.expiresAt)
        if let failedID = entry.failedID, let failedAt = entry.failedAt, now - failedAt < rules.failureBackoff {
            value["backoff_id"] = .string(failedID)
        }
        value["entry"] = entry.json
        return .object(value)
    }

    public static let miss: JSONValue = ["status": "miss"]
}

/// `sts-cache lookup`: reads the cached entry of each record's domain and adds `cache` (see
/// `CacheStage.hit`), or `{"status": "miss"}`. Placed after sts-dns, the TXT id it found decides
/// `fresh`. A record without a usable `domain` gets a top-level `error`, as in every stage.
public struct CacheLookupStage: RecordStage {
    public let backend: any CacheBackend
    public let rules: CacheRules
    public let now: @Sendable () -> Int64

    public init(backend: any CacheBackend, rules: CacheRules, now: @escaping @Sendable () -> Int64 = UnixTime.now) {
        self.backend = backend
        self.rules = rules
        self.now = now
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        var record = record
        guard let domain = DomainField.require(in: &record) else { return record }
        // Only a found record's id says which policy is current; none or an error says nothing about it.
        var discoveredID: String?
        if let txt = record["txt"], txt["status"]?.stringValue == "found" { discoveredID = txt["id"]?.stringValue }
        do {
            if let entry = try await backend.get(domain) {
                record["cache"] = CacheStage.hit(entry, discoveredID: discoveredID, rules: rules, at: now())
            } else {
                record["cache"] = CacheStage.miss
            }
        } catch {
            record["cache"] = CacheStage.failure(error)
        }
        return record
    }
}
