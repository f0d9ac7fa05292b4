import STSCore
import Synchronization

/// The DANE status of recently looked-up domains, kept in memory for as long as DNS allows (the
/// smallest TTL of the records, within `minimumLife...maximumLife`) and never written to disk: it
/// is cheap to learn again and must follow DNS closely.
public final class DANECache: Sendable {
    public let capacity: Int
    public let minimumLife: Int64
    public let maximumLife: Int64
    private let entries = Mutex<[String: (status: DANEStatus, expiresAt: Int64)]>([:])

    public init(capacity: Int, minimumLife: Int64 = 30, maximumLife: Int64 = 3600) {
        self.capacity = max(1, capacity)
        self.minimumLife = minimumLife
        self.maximumLife = maximumLife
    }

    /// The status learnt for `domain`, if it has not expired at `now`.
    public func status(of domain: String, at now: Int64) -> DANEStatus? {
        entries.withLock { entries in
            guard let entry = entries[domain] else { return nil }
            guard now < entry.expiresAt else {
                entries.removeValue(forKey: domain)
                return nil
            }
            return entry.status
        }
    }

    /// Remembers a status; an undeterminable one is not kept (the next lookup asks again).
    public func store(_ status: DANEStatus, for domain: String, at now: Int64) {
        guard let ttl = status.ttl else {
            entries.withLock { _ = $0.removeValue(forKey: domain) }
            return
        }
        let life = min(max(Int64(ttl), minimumLife), maximumLife)
        entries.withLock { entries in
            if entries.count >= capacity, entries[domain] == nil {
                // Expired entries go first; if that frees too little, arbitrary ones (the cache is only a
                // shortcut: a missing entry costs one DNS round). A sixteenth at a time, so the scan is
                // rare rather than on every store of a full cache.
                let room = max(1, capacity / 16)
                var doomed = entries.filter { $0.value.expiresAt <= now }.map(\.key)
                if doomed.count < room {
                    doomed += entries.lazy.filter { $0.value.expiresAt > now }.map(\.key).prefix(room - doomed.count)
                }
                for key in doomed { entries.removeValue(forKey: key) }
            }
            entries[domain] = (status, now + life)
        }
    }
}
