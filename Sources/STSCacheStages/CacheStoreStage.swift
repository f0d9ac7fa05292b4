import STSCache
import STSCore
import STSStage

/// `sts-cache store`: placed after sts-parse, turns what the record says (`txt`, `fetch`, `policy`) and
/// the entry cached for its domain into the next entry (`CacheRules.next`), stores it and adds
/// `cache`: `{"status": "stored", "entry": {...}}`, or `{"status": "unchanged"}` when the rules keep
/// the cache as it is (a DNS failure, an absent TXT record over a cached policy, ...).
///
/// A record that cannot say what was learnt (no `txt`, a fetched body that was never parsed) gets a
/// `cache` error rather than being guessed at: storing a guess would start a back-off or evict a policy.
public struct CacheStoreStage: RecordStage {
    public let backend: any CacheBackend
    public let rules: CacheRules
    public let now: @Sendable () -> Int64
    private let locks = CacheDomainLocks()

    public init(backend: any CacheBackend, rules: CacheRules, now: @escaping @Sendable () -> Int64 = UnixTime.now) {
        self.backend = backend
        self.rules = rules
        self.now = now
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        var record = record
        guard let domain = DomainField.require(in: &record) else { return record }
        switch CacheRules.Discovery.read(from: record) {
        case .failure(let error):
            record["cache"] = CacheStage.failure(error)
        case .success(let discovery):
            record["cache"] = await store(domain: domain, discovery: discovery)
        }
        return record
    }

    /// Read, decide, write, with no other record for the same domain in between (a lost update could
    /// drop a failure back-off or bring back a replaced policy).
    func store(domain: String, discovery: CacheRules.Discovery) async -> JSONValue {
        await locks.acquire(domain)
        let result = await update(domain: domain, discovery: discovery)
        await locks.release(domain)
        return result
    }

    private func update(domain: String, discovery: CacheRules.Discovery) async -> JSONValue {
        do {
            let current = try await backend.get(domain)
            guard let next = rules.next(current, domain: domain, discovery: discovery, at: now()), next != current else {
                return ["status": "unchanged"]
            }
            try await backend.put(next)
            return ["status": "stored", "entry": next.json]
        } catch {
            return CacheStage.failure(error)
        }
    }
}

/// One holder per domain at a time; the others wait in arrival order.
actor CacheDomainLocks {
    /// A domain is present while held; its value is who waits for it next.
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    func acquire(_ domain: String) async {
        guard waiting[domain] != nil else {
            waiting[domain] = []
            return
        }
        await withCheckedContinuation { waiting[domain, default: []].append($0) }
    }

    func release(_ domain: String) {
        guard var queue = waiting[domain], !queue.isEmpty else {
            waiting[domain] = nil
            return
        }
        let next = queue.removeFirst()
        waiting[domain] = queue
        next.resume()
    }
}
