import STSCore
import Synchronization

/// The `internal` backend: entries in memory, at most `capacity`, the least recently used evicted.
public final class MemoryCache: CacheBackend {
    private struct State {
        var entries: [String: CacheEntry] = [:]
        /// Recency: a counter per domain; the smallest is the least recently used.
        var lastUse: [String: UInt64] = [:]
        var clock: UInt64 = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public func get(_ domain: String) async throws(STSError) -> CacheEntry? {
        entry(for: domain)
    }

    /// The entry, without suspending (it counts as a use, as `get`).
    public func entry(for domain: String) -> CacheEntry? {
        state.withLock { state in
            guard let entry = state.entries[domain] else { return nil }
            state.clock += 1
            state.lastUse[domain] = state.clock
            return entry
        }
    }

    public func put(_ entry: CacheEntry) async throws(STSError) {
        state.withLock { state in
            state.clock += 1
            state.entries[entry.domain] = entry
            state.lastUse[entry.domain] = state.clock
            if state.entries.count > capacity {
                // Evicting in a batch keeps the scan for the oldest rare: at most once per 1/16 of capacity.
                let excess = state.entries.count - capacity + max(0, capacity / 16 - 1)
                let oldest = state.lastUse.sorted { $0.value < $1.value }.prefix(excess).map(\.key)
                for domain in oldest where domain != entry.domain {
                    state.entries.removeValue(forKey: domain)
                    state.lastUse.removeValue(forKey: domain)
                }
            }
        }
    }

    public func delete(_ domain: String) async throws(STSError) {
        state.withLock { state in
            state.entries.removeValue(forKey: domain)
            state.lastUse.removeValue(forKey: domain)
        }
    }

    public func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] {
        state.withLock { state in
            state.entries.keys.filter { cursor == nil || $0 > cursor! }.sorted().prefix(limit).compactMap { state.entries[$0] }
        }
    }

    public func purgeAll() async throws(STSError) {
        state.withLock { $0 = State() }
    }

    public func count() async throws(STSError) -> Int {
        state.withLock { $0.entries.count }
    }
}
