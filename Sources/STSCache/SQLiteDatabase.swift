import CSQLite
import STSCore

/// A thin, owned sqlite3 connection: statements with bound values, rows as arrays. Used from one
/// serial queue at a time (the caller serialises; hence unchecked Sendable).
final class SQLiteDatabase: @unchecked Sendable {
    enum Value: Equatable {
        case null
        case int(Int64)
        case text(String)
    }

    private let handle: OpaquePointer
    let path: String
    private let busyTimeoutMs: Int32

    init(path: String, busyTimeoutMs: Int32) throws(STSError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close(db)
            throw STSError(.internalError, "cannot open the sqlite cache \(path): \(message)")
        }
        handle = db
        self.path = path
        self.busyTimeoutMs = busyTimeoutMs
        sqlite3_busy_timeout(db, busyTimeoutMs)
    }

    /// `body` with no wait for a lock another connection holds: a statement that needs one fails at
    /// once (SQLITE_BUSY) instead of waiting the busy timeout.
    func withoutWaiting<T>(_ body: () throws(STSError) -> T) throws(STSError) -> T {
        sqlite3_busy_timeout(handle, 0)
        defer { sqlite3_busy_timeout(handle, busyTimeoutMs) }
        return try body()
    }

    private var isOpen = true

    deinit { close() }

    /// Closes the connection (the last one to close removes the -wal and -shm files); later
    /// statements fail. Idempotent.
    func close() {
        guard isOpen else { return }
        isOpen = false
        sqlite3_close_v2(handle)
    }

    func execute(_ sql: String) throws(STSError) {
        guard isOpen else { throw STSError(.internalError, "sqlite cache \(path): closed") }
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw STSError(.internalError, "sqlite cache \(path): \(message)")
        }
    }

    /// Runs one statement; the rows it returns, each column as a Value.
    @discardableResult
    func query(_ sql: String, _ bindings: [Value] = []) throws(STSError) -> [[Value]] {
        guard isOpen else { throw STSError(.internalError, "sqlite cache \(path): closed") }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw failure("cannot prepare")
        }
        defer { sqlite3_finalize(statement) }
        for (index, value) in bindings.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, position)
            case .int(let number): sqlite3_bind_int64(statement, position, number)
            case .text(let text): sqlite3_bind_text(statement, position, text, -1, sts_sqlite_transient())
            }
        }
        var rows: [[Value]] = []
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw failure("query failed") }
            var row: [Value] = []
            for column in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_NULL: row.append(.null)
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(statement, column)))
                default:
                    let text = sqlite3_column_text(statement, column).map { String(cString: $0) } ?? ""
                    row.append(.text(text))
                }
            }
            rows.append(row)
        }
        return rows
    }

    private func failure(_ what: String) -> STSError {
        STSError(.internalError, "sqlite cache \(path): \(what): \(String(cString: sqlite3_errmsg(handle)))")
    }
}
