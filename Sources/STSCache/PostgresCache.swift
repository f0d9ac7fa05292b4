import CPostgres
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import STSCore

/// The `postgres` backend: one table, `sts_policy` (domain, the entry as JSON, expiry, last use),
/// shareable by several daemons. Entries beyond `capacity` are evicted least recently used first.
///
/// libpq calls block, so they run on a serial queue; the connection is made on first use and made
/// again after a failure, so a server that starts late or restarts is picked up.
public final class PostgresCache: CacheBackend, @unchecked Sendable {
    public let capacity: Int
    private let dsn: String
    private let queue = DispatchQueue(label: "sts-cache-postgres")
    private var connection: OpaquePointer?
    private var putsSinceEvictionCheck = 0
    /// After a failed connect, calls fail at once until then (a server that is down must not make every
    /// lookup wait for a connect timeout).
    private var reconnectAfter = ContinuousClock.now
    static let reconnectDelay = Duration.seconds(5)
    /// Seconds a statement may take, and connecting.
    public let timeout: Int

    public init(dsn: String, capacity: Int, timeout: Int = 5) {
        self.dsn = dsn
        self.capacity = max(1, capacity)
        self.timeout = timeout
    }

    deinit { if let connection { PQfinish(connection) } }

    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                if let connection { PQfinish(connection) }
                connection = nil
                continuation.resume()
            }
        }
    }

    /// Where the server is, for messages: the DSN without its password.
    public var name: String { Self.redacted(dsn) }

    static func redacted(_ dsn: String) -> String {
        var text = dsn
        // postgres://user:secret@host/db and password=secret
        if let scheme = text.firstRange(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@"),
            let colon = text[scheme.upperBound..<at].firstIndex(of: ":") {
            text.replaceSubrange(text.index(after: colon)..<at, with: "***")
        }
        while let range = text.firstRange(of: "password=") {
            let end = text[range.upperBound...].firstIndex(where: { $0 == " " || $0 == "&" }) ?? text.endIndex
            text.replaceSubrange(range.lowerBound..<end, with: "password-hidden")
        }
        return text
    }

    private func connect() throws(STSError) -> OpaquePointer {
        if let connection, PQstatus(connection) == CONNECTION_OK { return connection }
        if let connection { PQfinish(connection) }
        connection = nil
        guard ContinuousClock.now >= reconnectAfter else {
            throw STSError(.internalError, "postgres \(name): unavailable after a failed connection; retrying shortly")
        }
        reconnectAfter = ContinuousClock.now + Self.reconnectDelay
        // connect_timeout first: the DSN's own settings, expanded after it, override it.
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = [String(timeout), "sts-socketmapd", dsn]
        let made = keywords.withCStrings { keywordPointers in
            values.withCStrings { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let made else { throw STSError(.internalError, "postgres \(name): cannot allocate a connection") }
        guard PQstatus(made) == CONNECTION_OK else {
            let message = Self.errorText(made)
            PQfinish(made)
            throw STSError(.internalError, "postgres \(name): \(message)")
        }
        connection = made
        reconnectAfter = ContinuousClock.now
        // Quiet: libpq prints notices ("relation already exists") on standard error, which is for our logs.
        try execute(made, "SET client_min_messages = warning", [])
        try execute(made, "SET statement_timeout = \(timeout * 1000)", [])
        try execute(made, """
            CREATE TABLE IF NOT EXISTS sts_policy (
                domain TEXT PRIMARY KEY NOT NULL,
                entry TEXT NOT NULL,
                expires_at BIGINT NOT NULL,
                last_used BIGINT NOT NULL
            )
            """, [])
        return made
    }

    /// One statement with text parameters; the rows, each column as text (nil for NULL).
    @discardableResult
    private func execute(_ connection: OpaquePointer, _ sql: String, _ parameters: [String]) throws(STSError) -> [[String?]] {
        let result = parameters.withCStrings { pointers in
            PQexecParams(connection, sql, Int32(parameters.count), nil, pointers, nil, nil, 0)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? Self.errorText(connection)
            throw STSError(.internalError, "postgres \(name): \(Self.oneLine(message))")
        }
        var rows: [[String?]] = []
        for row in 0..<PQntuples(result) {
            rows.append((0..<PQnfields(result)).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        return rows
    }

    /// Runs `work` on the queue with a working connection; after a broken connection, once more.
    @discardableResult
    private func run<T: Sendable>(_ work: @escaping @Sendable (PostgresCache, OpaquePointer) throws(STSError) -> T) async throws(STSError) -> T {
        let result: Result<T, STSError> = await withCheckedContinuation { continuation in
            queue.async { [self] in
                continuation.resume(returning: Result { () throws(STSError) -> T in
                    var attempt = 0
                    while true {
                        attempt += 1
                        let hadConnection = connection != nil
                        do throws(STSError) {
                            return try work(self, try connect())
                        } catch {
                            // Once more only when a connection that worked broke (a restarted server).
                            let broken = connection.map { PQstatus($0) != CONNECTION_OK } ?? true
                            if !broken || !hadConnection || attempt >= 2 { throw error }
                        }
                    }
                })
            }
        }
        return try result.get()
    }

    public func get(_ domain: String) async throws(STSError) -> CacheEntry? {
        try await run { cache, connection throws(STSError) -> CacheEntry? in
            let rows = try cache.execute(connection, "UPDATE sts_policy SET last_used = $2 WHERE domain = $1 RETURNING entry", [domain, String(UnixTime.now())])
            guard let text = rows.first?.first ?? nil else { return nil }
            return Self.entry(text, domain: domain)
        }
    }

    public func put(_ entry: CacheEntry) async throws(STSError) {
        try await run { cache, connection throws(STSError) in
            try cache.execute(connection, """
                INSERT INTO sts_policy (domain, entry, expires_at, last_used) VALUES ($1, $2, $3, $4)
                ON CONFLICT (domain) DO UPDATE SET entry = EXCLUDED.entry, expires_at = EXCLUDED.expires_at, last_used = EXCLUDED.last_used
                """, [entry.domain, JSONWriter.string(entry.json), String(entry.expiresAt), String(UnixTime.now())])
            try cache.evictIfFull(connection)
        }
    }

    /// Checked every so often rather than on every put: counting is a scan.
    private func evictIfFull(_ connection: OpaquePointer) throws(STSError) {
        putsSinceEvictionCheck += 1
        guard putsSinceEvictionCheck >= max(1, min(64, capacity / 16)) else { return }
        putsSinceEvictionCheck = 0
        // Entries a day past their expiry are of no use any more (TTLs in a shared store).
        try execute(connection, "DELETE FROM sts_policy WHERE expires_at < $1", [String(UnixTime.now() - 86400)])
        guard let text = try execute(connection, "SELECT count(*) FROM sts_policy", []).first?.first ?? nil, let count = Int(text), count > capacity else { return }
        try execute(connection, "DELETE FROM sts_policy WHERE domain IN (SELECT domain FROM sts_policy ORDER BY last_used LIMIT $1)", [String(count - capacity)])
    }

    public func delete(_ domain: String) async throws(STSError) {
        try await run { cache, connection throws(STSError) in
            try cache.execute(connection, "DELETE FROM sts_policy WHERE domain = $1", [domain])
        }
    }

    public func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] {
        try await run { cache, connection throws(STSError) -> [CacheEntry] in
            var entries: [CacheEntry] = []
            var after = cursor ?? ""
            while entries.count < limit {
                let wanted = limit - entries.count
                // Byte order (COLLATE "C") whatever the database's locale, as the other backends page.
                let rows = try cache.execute(connection, #"SELECT domain, entry FROM sts_policy WHERE domain COLLATE "C" > $1 ORDER BY domain COLLATE "C" LIMIT $2"#, [after, String(wanted)])
                for row in rows {
                    if let domain = row[0], let text = row[1], let entry = Self.entry(text, domain: domain) { entries.append(entry) }
                }
                guard rows.count == wanted, let last = rows.last?[0] else { break }
                after = last
            }
            return entries
        }
    }

    public func purgeAll() async throws(STSError) {
        try await run { cache, connection throws(STSError) in try cache.execute(connection, "DELETE FROM sts_policy", []) }
    }

    public func count() async throws(STSError) -> Int {
        try await run { cache, connection throws(STSError) -> Int in
            Int((try cache.execute(connection, "SELECT count(*) FROM sts_policy", []).first?.first ?? nil) ?? "0") ?? 0
        }
    }

    static func entry(_ text: String, domain: String) -> CacheEntry? {
        guard let json = try? JSONParser.parse(text), let entry = CacheEntry(json: json), entry.domain == domain else { return nil }
        return entry
    }

    private static func errorText(_ connection: OpaquePointer) -> String {
        oneLine(PQerrorMessage(connection).map { String(cString: $0) } ?? "connection failed")
    }

    /// libpq's messages span lines (a hint after a tab); logs and errors want one.
    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: { $0 == "\n" || $0 == "\t" || $0 == "\r" }).map { $0.trimming(" ") }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}

extension Array where Element == String {
    /// The strings as a C array of C strings, NULL-terminated (as libpq's keyword lists must be),
    /// valid inside `body`.
    func withCStrings<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let storage = map { strdup($0)! }
        defer { storage.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = storage.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
