import STSCore
import Synchronization

/// The `internal` backend: entries in memory, at most `capacity`, the least recently used evicted.
///
/// One dictionary of small boxes, each holding an entry and when it was last used: a lookup hashes the
/// domain once and a use is written into the box, not into a second dictionary; and the dictionary's
/// slots hold a reference rather than a whole entry, which matters when it doubles (at 100,000
/// entries its table has room for 262,144).
public final class MemoryCache: CacheBackend {
    private final class Slot {
        var entry: CacheEntry
        /// Recency: a counter; the smallest is the least recently used.
        var lastUse: UInt64

        init(_ entry: CacheEntry, lastUse: UInt64) {
            self.entry = entry
            self.lastUse = lastUse
        }
    }

    private struct State {
        var slots: [String: Slot] = [:]
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
            guard let slot = state.slots[domain] else { return nil }
            state.clock += 1
            slot.lastUse = state.clock
            return slot.entry
        }
    }

    public func put(_ entry: CacheEntry) async throws(STSError) {
        state.withLock { state in
            state.clock += 1
            if let slot = state.slots[entry.domain] {
                slot.entry = entry
                slot.lastUse = state.clock
                return
            }
            state.slots[entry.domain] = Slot(entry, lastUse: state.clock)
            if state.slots.count > capacity {
                // Evicting in a batch keeps the scan for the oldest rare: at most once per 1/16 of capacity.
                let excess = state.slots.count - capacity + max(0, capacity / 16 - 1)
                let oldest = state.slots.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(excess).map(\.key)
                for domain in oldest where domain != entry.domain {
                    state.slots.removeValue(forKey: domain)
                }
            }
        }
    }

    public func delete(_ domain: String) async throws(STSError) {
        _ = state.withLock { $0.slots.removeValue(forKey: domain) }
    }

    public func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] {
        state.withLock { state in
            state.slots.keys.filter { cursor == nil || $0 > cursor! }.sorted().prefix(limit).compactMap { state.slots[$0]?.entry }
        }
    }

    public func purgeAll() async throws(STSError) {
        state.withLock { $0 = State() }
    }

    public func count() async throws(STSError) -> Int {
        state.withLock { $0.slots.count }
    }
}
