import STSCore

/// Where cache entries are kept. The daemon and sts-cache talk only to this protocol, so a backend
/// (memory, sqlite, redis, postgres) can be added without touching either.
public protocol CacheBackend: Sendable {
    func get(_ domain: String) async throws(STSError) -> CacheEntry?
    func put(_ entry: CacheEntry) async throws(STSError)
    func delete(_ domain: String) async throws(STSError)
    /// Entries in domain order after `cursor` (exclusive), at most `limit`: a paged scan.
    func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry]
    func purgeAll() async throws(STSError)
    func count() async throws(STSError) -> Int
    /// Releases the store's resources (files, connections); nothing may be asked after.
    func close() async
}

extension CacheBackend {
    public func close() async {}
}
