import STSCore

/// What the cache knows about one policy domain. Times are Unix seconds.
///
/// A positive entry holds the policy fetched under a TXT id; a negative entry (`policy == nil`)
/// remembers that the domain had no policy, for a short time. The timestamps let the daemon apply
/// RFC 8461 §3.3 and our own rules: serve until `expiresAt`, re-check the TXT id after `cache_grace`
/// since `confirmedAt`, re-fetch the body periodically since `fetchedAt`, and fetch at most once per
/// domain and id every 5 minutes after a failure (`failedAt`, `failedID`).
public struct CacheEntry: Sendable, Equatable {
    public var domain: String
    /// The TXT id the policy was fetched under (nil for a negative entry).
    public var policyID: String?
    public var policy: Policy?
    /// When the policy body was last fetched (or the absence of a policy learnt).
    public var fetchedAt: Int64
    /// When discovery last answered and this entry was kept (see `CacheRules.next`): `cache_grace`
    /// counts from here.
    public var confirmedAt: Int64
    /// When the entry stops being usable.
    public var expiresAt: Int64
    /// The last failed fetch, and the TXT id it was for.
    public var failedAt: Int64?
    public var failedID: String?

    public init(domain: String, policyID: String?, policy: Policy?, fetchedAt: Int64, confirmedAt: Int64, expiresAt: Int64, failedAt: Int64? = nil, failedID: String? = nil) {
        self.domain = domain
        self.policyID = policyID
        self.policy = policy
        self.fetchedAt = fetchedAt
        self.confirmedAt = confirmedAt
        self.expiresAt = expiresAt
        self.failedAt = failedAt
        self.failedID = failedID
    }

    public var isNegative: Bool { policy == nil }

    public func isExpired(at now: Int64) -> Bool { now >= expiresAt }

    public var json: JSONValue {
        var object: JSONObject = ["domain": .string(domain)]
        object["policy_id"] = policyID.map { .string($0) } ?? .null
        object["policy"] = policy?.json ?? .null
        object["fetched_at"] = .int(fetchedAt)
        object["confirmed_at"] = .int(confirmedAt)
        object["expires_at"] = .int(expiresAt)
        if let failedAt { object["failed_at"] = .int(failedAt) }
        if let failedID { object["failed_id"] = .string(failedID) }
        return .object(object)
    }

    /// Reads the JSON form back with every field checked: entries can come from shared stores and
    /// from pipelines, and nothing unchecked may reach Postfix.
    public init?(json: JSONValue) {
        guard let name = json["domain"]?.stringValue, let domain = try? DomainName.normalize(name), domain == name,
            let fetchedAt = json["fetched_at"]?.intValue, let confirmedAt = json["confirmed_at"]?.intValue,
            let expiresAt = json["expires_at"]?.intValue
        else { return nil }
        let policyID = json["policy_id"]?.stringValue
        var policy: Policy?
        if let policyJSON = json["policy"], policyJSON != .null {
            guard let parsed = Policy(json: policyJSON), let policyID, CacheEntry.isValidID(policyID) else { return nil }
            policy = parsed
        }
        self.init(domain: domain, policyID: policyID, policy: policy, fetchedAt: Int64(fetchedAt), confirmedAt: Int64(confirmedAt),
                  expiresAt: Int64(expiresAt), failedAt: json["failed_at"]?.intValue.map(Int64.init), failedID: json["failed_id"]?.stringValue)
    }

    static func isValidID(_ id: String) -> Bool {
        (1...32).contains(id.utf8.count) && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }
}
