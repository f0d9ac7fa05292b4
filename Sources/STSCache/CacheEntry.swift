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
    /// from pipelines, and nothing unchecked may reach Postfix. nil when a check fails.
    public init?(json: JSONValue) {
        guard let entry = try? CacheEntry(checking: json) else { return nil }
        self = entry
    }

    /// The same checks, with an `invalid-input` error naming the first field that fails them. One reading
    /// for what a backend gives back and what `ops put` takes, so nothing is stored that reads back as absent.
    public init(checking json: JSONValue) throws(STSError) {
        func refuse(_ field: String, _ why: String) -> STSError { STSError(.invalidInput, "\"\(field)\" \(why)") }
        func time(_ field: String) throws(STSError) -> Int64 {
            guard let value = json[field]?.intValue else { throw refuse(field, "must be an integer (Unix seconds)") }
            return Int64(value)
        }
        /// Absent and null are the same: `json` writes null for the ids of a negative entry.
        func present(_ field: String) -> JSONValue? {
            guard let value = json[field], value != .null else { return nil }
            return value
        }
        func id(_ field: String) throws(STSError) -> String? {
            guard let value = present(field) else { return nil }
            guard let id = value.stringValue, CacheEntry.isValidID(id) else { throw refuse(field, "must be a TXT id: 1 to 32 letters and digits") }
            return id
        }

        guard json.objectValue != nil else { throw STSError(.invalidInput, "an entry must be a JSON object") }
        guard let name = json["domain"]?.stringValue else { throw refuse("domain", "must be a string") }
        guard let domain = try? DomainName.normalize(name), domain == name else {
            throw refuse("domain", "must be a normalised policy domain (lower case, A-labels, no trailing dot)")
        }
        let fetchedAt = try time("fetched_at"), confirmedAt = try time("confirmed_at"), expiresAt = try time("expires_at")
        let policyID = try id("policy_id")
        var policy: Policy?
        if let policyJSON = present("policy") {
            guard let parsed = Policy(json: policyJSON) else { throw refuse("policy", "is not a valid policy as sts-parse writes it") }
            guard policyID != nil else { throw refuse("policy_id", "must be given with a policy") }
            policy = parsed
        } else if policyID != nil {
            // A negative entry under an id would be reported as negative with that id.
            throw refuse("policy_id", "must be null in a negative entry (policy null)")
        }
        // The rules always note a failure as both when and for which id; one without the other means nothing.
        var failedAt: Int64?
        if present("failed_at") != nil { failedAt = try time("failed_at") }
        let failedID = try id("failed_id")
        guard (failedAt == nil) == (failedID == nil) else {
            throw refuse(failedAt == nil ? "failed_at" : "failed_id", "is missing: failed_at and failed_id come together")
        }
        self.init(domain: domain, policyID: policyID, policy: policy, fetchedAt: fetchedAt, confirmedAt: confirmedAt,
                  expiresAt: expiresAt, failedAt: failedAt, failedID: failedID)
    }

    /// RFC 8461 §3.1 `sts-id`: 1*32(ALPHA / DIGIT).
    public static func isValidID(_ id: String) -> Bool {
        (1...32).contains(id.utf8.count) && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }
}
