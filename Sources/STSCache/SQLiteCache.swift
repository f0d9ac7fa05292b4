import Dispatch
import STSCore

/// The `sqlite` backend: one file, WAL journal, at most `capacity` entries (the least recently used
/// are evicted). sqlite calls block, so they run on a serial queue of their own, never on the
/// cooperative thread pool.
public final class SQLiteCache: CacheBackend, @unchecked Sendable {
    public static let schemaVersion = 1

    public let capacity: Int
    private let database: SQLiteDatabase
    private let queue = DispatchQueue(label: "sts-cache-sqlite")
    private var putsSinceEvictionCheck = 0

    public init(path: String, capacity: Int, busyTimeout: Double = 5) throws(STSError) {
        self.capacity = max(1, capacity)
        database = try SQLiteDatabase(path: path, busyTimeoutMs: Int32(busyTimeout * 1000))
        // A file already set up is only read here: opening it must not wait for another program's write
        // lock (the schema statements and a journal mode change each take it, even when nothing changes).
        if try database.query("PRAGMA journal_mode").first?.first != .text("wal") {
            try database.execute("PRAGMA journal_mode=WAL;")
        }
        try database.execute("PRAGMA synchronous=NORMAL;")
        if try database.query("PRAGMA user_version").first?.first != .int(Int64(Self.schemaVersion)) {
            try Self.createSchema(in: database)
        }
        // A file that opens but is damaged must be found now, not on the first lookup.
        let check = try database.query("PRAGMA quick_check")
        guard check.first?.first == .text("ok") else {
            throw STSError(.internalError, "the sqlite cache \(path) is damaged")
        }
    }

    private static func createSchema(in database: SQLiteDatabase) throws(STSError) {
        try database.execute("""
            CREATE TABLE IF NOT EXISTS sts_policy (
                domain TEXT PRIMARY KEY NOT NULL,
                policy_id TEXT,
                policy TEXT,
                fetched_at INTEGER NOT NULL,
                confirmed_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                failed_at INTEGER,
                failed_id TEXT,
                last_used INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS sts_policy_last_used ON sts_policy(last_used);
            PRAGMA user_version = \(Self.schemaVersion);
            """)
    }

    @discardableResult
    private func run<T: Sendable>(_ work: @escaping @Sendable () throws(STSError) -> T) async throws(STSError) -> T {
        let result: Result<T, STSError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(STSError) -> T in try work() })
            }
        }
        return try result.get()
    }

    /// Closes the file once the requests queued before have run, so that a command that ends leaves no
    /// -wal or -shm file behind whatever its tasks still hold.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [database] in
                database.close()
                continuation.resume()
            }
        }
    }

    private static let columns = "domain, policy_id, policy, fetched_at, confirmed_at, expires_at, failed_at, failed_id"

    public func get(_ domain: String) async throws(STSError) -> CacheEntry? {
        try await run { [database] () throws(STSError) -> CacheEntry? in
            guard let row = try database.query("SELECT \(Self.columns) FROM sts_policy WHERE domain = ?", [.text(domain)]).first else { return nil }
            // Recency is kept for eviction only, so it is written only when the write lock is free: a
            // read must not wait for another program's write (in WAL mode the SELECT never does).
            _ = try? database.withoutWaiting { () throws(STSError) in
                try database.query("UPDATE sts_policy SET last_used = ? WHERE domain = ?", [.int(UnixTime.now()), .text(domain)])
            }
            return Self.entry(row)
        }
    }

    public func put(_ entry: CacheEntry) async throws(STSError) {
        try await run { [self] () throws(STSError) in
            let policyText = entry.policy.map { JSONWriter.string($0.json) }
            try database.query(
                "INSERT OR REPLACE INTO sts_policy (\(Self.columns), last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [.text(entry.domain), entry.policyID.map { .text($0) } ?? .null, policyText.map { .text($0) } ?? .null,
                 .int(entry.fetchedAt), .int(entry.confirmedAt), .int(entry.expiresAt),
                 entry.failedAt.map { .int($0) } ?? .null, entry.failedID.map { .text($0) } ?? .null, .int(UnixTime.now())])
            try evictIfFull()
        }
    }

    /// Checked every so often rather than on every put: counting is a scan.
    private func evictIfFull() throws(STSError) {
        putsSinceEvictionCheck += 1
        guard putsSinceEvictionCheck >= max(1, min(64, capacity / 16)) else { return }
        putsSinceEvictionCheck = 0
        guard case .int(let count)? = try database.query("SELECT count(*) FROM sts_policy").first?.first, count > capacity else { return }
        try database.query(
            "DELETE FROM sts_policy WHERE domain IN (SELECT domain FROM sts_policy ORDER BY last_used LIMIT ?)",
            [.int(count - Int64(capacity))])
    }

    public func delete(_ domain: String) async throws(STSError) {
        try await run { [database] () throws(STSError) in
            try database.query("DELETE FROM sts_policy WHERE domain = ?", [.text(domain)])
        }
    }

    public func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] {
        try await run { [database] () throws(STSError) -> [CacheEntry] in
            // Rows that fail the checks are skipped, but paging goes on from the raw rows, so a page of
            // bad rows cannot end a scan early.
            var entries: [CacheEntry] = []
            var after = cursor ?? ""
            while entries.count < limit {
                let wanted = limit - entries.count
                let rows = try database.query("SELECT \(Self.columns) FROM sts_policy WHERE domain > ? ORDER BY domain LIMIT ?",
                                              [.text(after), .int(Int64(wanted))])
                entries += rows.compactMap(Self.entry)
                guard rows.count == wanted, case .text(let last)? = rows.last?.first else { break }
                after = last
            }
            return entries
        }
    }

    public func purgeAll() async throws(STSError) {
        try await run { [database] () throws(STSError) in try database.query("DELETE FROM sts_policy") }
    }

    public func count() async throws(STSError) -> Int {
        try await run { [database] () throws(STSError) -> Int in
            guard case .int(let count)? = try database.query("SELECT count(*) FROM sts_policy").first?.first else { return 0 }
            return Int(count)
        }
    }

    /// A row back to an entry, through the same checks as any JSON entry; a row that fails them is
    /// treated as absent.
    private static func entry(_ row: [SQLiteDatabase.Value]) -> CacheEntry? {
        guard row.count == 8, case .text(let domain) = row[0], case .int(let fetchedAt) = row[3],
            case .int(let confirmedAt) = row[4], case .int(let expiresAt) = row[5]
        else { return nil }
        var object: JSONObject = ["domain": .string(domain), "fetched_at": .int(fetchedAt), "confirmed_at": .int(confirmedAt), "expires_at": .int(expiresAt)]
        if case .text(let id) = row[1] { object["policy_id"] = .string(id) }
        if case .text(let policy) = row[2] { object["policy"] = (try? JSONParser.parse(policy)) ?? .string("invalid") }
        if case .int(let failedAt) = row[6] { object["failed_at"] = .int(failedAt) }
        if case .text(let failedID) = row[7] { object["failed_id"] = .string(failedID) }
        return CacheEntry(json: .object(object))
    }
}
