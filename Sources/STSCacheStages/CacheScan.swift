import STSCache
import STSCore

/// Whole-cache work for `sts-cache dump`, `export` and `purge`: paged scans in domain order, so the
/// memory used does not grow with the cache.
public enum CacheScan {
    public static let pageSize = 500

    /// Calls `body` with each entry in domain order, one page in memory at a time.
    public static func forEach(_ backend: any CacheBackend, pageSize: Int = pageSize, _ body: (CacheEntry) -> Void) async throws(STSError) {
        var cursor: String?
        while true {
            let page = try await backend.list(after: cursor, limit: pageSize)
            guard let last = page.last else { return }
            page.forEach(body)
            cursor = last.domain
        }
    }

    /// What `export` writes for an entry, in Postfix's table format.
    public enum ExportLine: Equatable, Sendable {
        /// `domain<TAB>value`, without the line end.
        case line(String)
        /// Not exported: no policy to apply (negative, mode none or testing, expired, ...).
        case skipped
        /// The answer exceeds what Postfix accepts; the size in bytes.
        case tooLarge(Int)
    }

    public static func exportLine(_ entry: CacheEntry, options: ZoneOptions, includeExpired: Bool, at now: Int64) -> ExportLine {
        guard let policy = entry.policy, includeExpired || !entry.isExpired(at: now) else { return .skipped }
        switch TLSPolicyAnswer.render(policy, domain: entry.domain, options: options) {
        case .policy(let value): return .line("\(entry.domain)\t\(value)")
        case .noPolicy: return .skipped
        case .tooLarge(let size): return .tooLarge(size)
        }
    }

    /// Deletes the entries of `domains` (already normalised); how many there were.
    public static func purge(_ backend: any CacheBackend, domains: [String]) async throws(STSError) -> Int {
        var removed = 0
        for domain in Set(domains).sorted() {
            guard try await backend.get(domain) != nil else { continue }
            try await backend.delete(domain)
            removed += 1
        }
        return removed
    }

    /// Deletes every entry; how many there were.
    public static func purgeAll(_ backend: any CacheBackend) async throws(STSError) -> Int {
        let count = try await backend.count()
        try await backend.purgeAll()
        return count
    }
}
