import STSCache
import STSCore
import STSStage

/// `sts-cache ops`: cache operations for scripts, one per record, the result under `cache`:
///
///     {"op":"get","domain":"example.com"}      -> hit (as sts-cache lookup writes it) or {"status":"miss"}
///     {"op":"put","entry":{...}}               -> {"status":"stored","entry":{...}}
///     {"op":"delete","domain":"example.com"}   -> {"status":"deleted"} or {"status":"miss"}
///     {"op":"list","after":"a.example","limit":100}
///                                              -> {"status":"ok","entries":[...],"next":"z.example" or null}
///
/// A bad operation gets `{"status":"error","error":{...}}` and the stage goes on.
public struct CacheOpsStage: RecordStage {
    public static let defaultListLimit = 100
    public static let maxListLimit = 1000

    public let backend: any CacheBackend
    public let rules: CacheRules
    public let now: @Sendable () -> Int64

    public init(backend: any CacheBackend, rules: CacheRules, now: @escaping @Sendable () -> Int64 = UnixTime.now) {
        self.backend = backend
        self.rules = rules
        self.now = now
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        var record = record
        do {
            record["cache"] = try await perform(record)
        } catch {
            record["cache"] = CacheStage.failure(error)
        }
        return record
    }

    private func perform(_ record: JSONObject) async throws(STSError) -> JSONValue {
        guard let op = record["op"]?.stringValue else {
            throw STSError(.invalidInput, "the record has no string \"op\" (get, put, delete or list)")
        }
        switch op {
        case "get":
            let domain = try DomainField.normalized(in: record).get()
            guard let entry = try await backend.get(domain) else { return CacheStage.miss }
            return CacheStage.hit(entry, discoveredID: nil, rules: rules, at: now())
        case "put":
            guard let json = record["entry"] else { throw STSError(.invalidInput, "put needs an \"entry\"") }
            // The same checks a shared store's entries get: nothing unchecked may reach Postfix, and
            // nothing is stored that would read back as absent.
            let entry: CacheEntry
            do {
                entry = try CacheEntry(checking: json)
            } catch {
                throw STSError(.invalidInput, "\"entry\" is not a valid cache entry: \(error.message)")
            }
            try await backend.put(entry)
            return ["status": "stored", "entry": entry.json]
        case "delete":
            let domain = try DomainField.normalized(in: record).get()
            guard try await backend.get(domain) != nil else { return CacheStage.miss }
            try await backend.delete(domain)
            return ["status": "deleted"]
        case "list":
            let after: String?
            switch record["after"] {
            case nil, .null?: after = nil
            case .string(let cursor)?: after = cursor
            default: throw STSError(.invalidInput, "\"after\" must be a string (the \"next\" of the previous page) or null")
            }
            var limit = Self.defaultListLimit
            if let value = record["limit"] {
                guard let number = value.intValue, (1...Self.maxListLimit).contains(number) else {
                    throw STSError(.invalidInput, "\"limit\" must be an integer from 1 to \(Self.maxListLimit)")
                }
                limit = number
            }
            // One more than asked tells whether another page follows.
            let page = try await backend.list(after: after, limit: limit + 1)
            let entries = page.prefix(limit)
            let next: JSONValue = page.count > limit ? .string(entries.last!.domain) : .null
            return ["status": "ok", "entries": .array(entries.map(\.json)), "next": next]
        default:
            throw STSError(.invalidInput, "unknown \"op\" \"\(op)\" (get, put, delete or list)")
        }
    }
}
