import STSCore

/// The rules that turn what the cache holds and what discovery and the fetch found into the next cache
/// entry, as pure functions of the inputs and the time (RFC 8461 §3.3, §5, and the fixes over the old
/// daemon listed in SPEC.md).
public struct CacheRules: Sendable, Equatable {
    /// Seconds an entry is served without asking DNS again (`cache_grace`).
    public var grace: Int64
    /// Seconds after which a policy body is fetched again even though its id is unchanged, so a domain
    /// that edits its policy without bumping the id is seen (at most daily).
    public var refetchInterval: Int64
    /// After a failed fetch, no new fetch for the same domain and id for this long.
    public var failureBackoff: Int64
    /// How long "no policy" is remembered, within bounds around the DNS negative TTL.
    public var negativeTTL: ClosedRange<Int64>

    public init(grace: Int64 = 60, refetchInterval: Int64 = 86400, failureBackoff: Int64 = 300, negativeTTL: ClosedRange<Int64> = 60...3600) {
        self.grace = grace
        self.refetchInterval = refetchInterval
        self.failureBackoff = failureBackoff
        self.negativeTTL = negativeTTL
    }

    /// What to do with a cached entry before any lookup.
    public enum Freshness: Sendable, Equatable {
        /// Serve it; nothing to check yet.
        case fresh
        /// Serve it if need be, but look the TXT record up again.
        case recheck
        /// Nothing usable: look up.
        case missing
    }

    public func freshness(of entry: CacheEntry?, at now: Int64) -> Freshness {
        guard let entry, !entry.isExpired(at: now) else { return .missing }
        return now - entry.confirmedAt < grace ? .fresh : .recheck
    }

    /// Whether the policy body must be fetched, given the cached entry and the TXT id just discovered.
    public func needsFetch(_ entry: CacheEntry?, discoveredID: String, at now: Int64) -> Bool {
        if let entry, entry.failedID == discoveredID, let failedAt = entry.failedAt, now - failedAt < failureBackoff {
            return false  // at most one failed fetch per domain and id every failureBackoff seconds
        }
        guard let entry, !entry.isExpired(at: now), !entry.isNegative, entry.policyID == discoveredID else { return true }
        return now - entry.fetchedAt >= refetchInterval
    }

    /// The entry after discovery (and, when there was one, the fetch). nil: nothing to store.
    ///
    /// - A valid policy replaces whatever was cached (a fetched `none` too, at once).
    /// - A failed fetch or an invalid policy keeps an unexpired cached policy and notes the failure;
    ///   with nothing cached it stores a negative entry that carries the failure, for the back-off.
    /// - An unchanged id confirms the cached policy.
    /// - An absent TXT record does not evict a cached policy (RFC 8461 §3.1); with nothing cached it
    ///   stores a negative entry.
    /// - A DNS failure changes nothing.
    ///
    /// Whenever discovery answered, the kept entry counts as confirmed (`confirmedAt`), whether or not its
    /// policy was the one published: the next `grace` seconds are served from it without asking again.
    /// Otherwise a domain that dropped its TXT record, or whose new policy fails to fetch, would have every
    /// lookup go through discovery until its cached policy expires (up to a year).
    public func next(_ entry: CacheEntry?, domain: String, discovery: Discovery, at now: Int64) -> CacheEntry? {
        let live = entry.flatMap { $0.isExpired(at: now) ? nil : $0 }
        switch discovery {
        case .dnsFailure:
            return nil
        case .noPolicy(let ttl):
            if var live, !live.isNegative {
                live.confirmedAt = now
                return live
            }
            let keep = Int64(ttl ?? Int(negativeTTL.lowerBound)).clamped(to: negativeTTL)
            return CacheEntry(domain: domain, policyID: nil, policy: nil, fetchedAt: now, confirmedAt: now, expiresAt: now + keep)
        case .policyID(let id, .notFetched):
            // Not fetched: the cached policy has this id, or a fetch of this id is backing off.
            guard var live, (!live.isNegative && live.policyID == id) || live.failedID == id else { return nil }
            live.confirmedAt = now
            return live
        case .policyID(let id, .fetched(let policy)):
            return CacheEntry(domain: domain, policyID: id, policy: policy, fetchedAt: now, confirmedAt: now, expiresAt: now + Int64(policy.maxAge))
        case .policyID(let id, .failed):
            if var live, !live.isNegative {
                live.failedAt = now
                live.failedID = id
                live.confirmedAt = now
                return live
            }
            return CacheEntry(domain: domain, policyID: nil, policy: nil, fetchedAt: now, confirmedAt: now,
                              expiresAt: now + failureBackoff, failedAt: now, failedID: id)
        }
    }

    public enum Discovery: Sendable, Equatable {
        /// The TXT lookup failed (SERVFAIL, timeout, bogus): we learnt nothing.
        case dnsFailure
        /// No policy is published; the DNS TTL of that answer when known.
        case noPolicy(ttl: Int?)
        /// A policy with this id is published; what came of fetching it.
        case policyID(String, FetchResult)
    }

    public enum FetchResult: Sendable, Equatable {
        case notFetched
        case fetched(Policy)
        /// The fetch failed or the policy was invalid.
        case failed
    }
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
