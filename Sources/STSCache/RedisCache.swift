import Dispatch
import STSCore

/// The `redis` and `redis_sentinel` backends: each entry a JSON string at `sts:entry:<domain>`,
/// expiring a day after the policy does (so a failure back-off outlives it briefly), a sorted set
/// `sts:domains` for scans in domain order, and `sts:expiry` (scored by expiry) so that beyond
/// `capacity` the entries closest to expiring are evicted. Shareable by several daemons.
///
/// hiredis calls block, so they run on a serial queue. The connection is made on first use and made
/// again after a failure, so a redis that starts after the daemon, or restarts, is picked up.
public final class RedisCache: CacheBackend, @unchecked Sendable {
    public static let entryPrefix = "sts:entry:"
    public static let domainsKey = "sts:domains"
    public static let expiryKey = "sts:expiry"
    /// Entries stay this long past their expiry.
    static let retention: Int64 = 86400

    private let locate: @Sendable () throws(STSError) -> RedisEndpoint
    private let queue = DispatchQueue(label: "sts-cache-redis")
    private var connection: RedisConnection?
    public let name: String
    public let capacity: Int
    private var putsSinceEvictionCheck = 0
    /// After a failed connect, calls fail at once until then (a redis that is down must not make every
    /// lookup wait for a connect timeout).
    private var reconnectAfter = ContinuousClock.now
    static let reconnectDelay = Duration.seconds(5)

    /// A plain redis server.
    public convenience init(endpoint: RedisEndpoint, capacity: Int = Int(Int32.max)) {
        self.init(name: endpoint.description, capacity: capacity) { () throws(STSError) in endpoint }
    }

    /// Any server: `locate` says where the server to use is now (for sentinel, the current master).
    public init(name: String, capacity: Int = Int(Int32.max), locate: @escaping @Sendable () throws(STSError) -> RedisEndpoint) {
        self.name = name
        self.capacity = max(1, capacity)
        self.locate = locate
    }

    /// Runs `work` on the queue with a working connection; a broken connection is replaced and the
    /// work tried once more (a restarted redis must not cost a lookup).
    private func run<T: Sendable>(_ work: @escaping @Sendable (RedisConnection) throws(STSError) -> T) async throws(STSError) -> T {
        let result: Result<T, STSError> = await withCheckedContinuation { continuation in
            queue.async { [self] in
                continuation.resume(returning: Result { () throws(STSError) -> T in
                    var attempt = 0
                    while true {
                        attempt += 1
                        do throws(STSError) {
                            let connection: RedisConnection
                            if let existing = self.connection {
                                connection = existing
                            } else {
                                guard ContinuousClock.now >= reconnectAfter else {
                                    throw STSError(.internalError, "\(name): unavailable after a failed connection; retrying shortly")
                                }
                                do throws(STSError) {
                                    connection = try RedisConnection(locate())
                                } catch {
                                    reconnectAfter = ContinuousClock.now + Self.reconnectDelay
                                    throw error
                                }
                                self.connection = connection
                            }
                            let value = try work(connection)
                            if connection.isBroken { self.connection = nil }
                            return value
                        } catch {
                            let hadConnection = self.connection != nil
                            if self.connection?.isBroken ?? true { self.connection = nil }
                            // Once more only when a connection that worked broke (a restarted redis).
                            if attempt >= 2 || self.connection != nil || !hadConnection { throw error }
                        }
                    }
                })
            }
        }
        return try result.get()
    }

    private static func check(_ value: RedisValue, _ what: String) throws(STSError) -> RedisValue {
        if case .error(let message) = value { throw STSError(.internalError, "redis \(what): \(message)") }
        return value
    }

    public func get(_ domain: String) async throws(STSError) -> CacheEntry? {
        try await run { connection throws(STSError) -> CacheEntry? in
            let value = try Self.check(connection.command(["GET", Self.entryPrefix + domain]), "GET")
            guard case .string(let bytes) = value else { return nil }
            return Self.entry(bytes, domain: domain)
        }
    }

    public func put(_ entry: CacheEntry) async throws(STSError) {
        try await run { [self] connection throws(STSError) in
            let key = Self.entryPrefix + entry.domain
            _ = try Self.check(connection.command(["SET", key, JSONWriter.string(entry.json)]), "SET")
            _ = try Self.check(connection.command(["EXPIREAT", key, String(entry.expiresAt + Self.retention)]), "EXPIREAT")
            _ = try Self.check(connection.command(["ZADD", Self.domainsKey, "0", entry.domain]), "ZADD")
            _ = try Self.check(connection.command(["ZADD", Self.expiryKey, String(entry.expiresAt), entry.domain]), "ZADD")
            try self.evictIfFull(connection)
        }
    }

    /// Checked every so often rather than on every put.
    private func evictIfFull(_ connection: RedisConnection) throws(STSError) {
        putsSinceEvictionCheck += 1
        guard putsSinceEvictionCheck >= max(1, min(64, capacity / 16)) else { return }
        putsSinceEvictionCheck = 0
        guard case .integer(let count) = try Self.check(connection.command(["ZCARD", Self.domainsKey]), "ZCARD"), count > capacity else { return }
        guard case .array(let oldest) = try Self.check(connection.command(["ZRANGE", Self.expiryKey, "0", String(Int(count) - capacity - 1)]), "ZRANGE") else { return }
        let domains = oldest.compactMap(\.text)
        guard !domains.isEmpty else { return }
        _ = try Self.check(connection.command(["DEL"] + domains.map { Self.entryPrefix + $0 }), "DEL")
        _ = try Self.check(connection.command(["ZREM", Self.domainsKey] + domains), "ZREM")
        _ = try Self.check(connection.command(["ZREM", Self.expiryKey] + domains), "ZREM")
    }

    public func delete(_ domain: String) async throws(STSError) {
        try await run { connection throws(STSError) in
            _ = try Self.check(connection.command(["DEL", Self.entryPrefix + domain]), "DEL")
            _ = try Self.check(connection.command(["ZREM", Self.domainsKey, domain]), "ZREM")
            _ = try Self.check(connection.command(["ZREM", Self.expiryKey, domain]), "ZREM")
        }
    }

    public func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] {
        try await run { connection throws(STSError) -> [CacheEntry] in
            var entries: [CacheEntry] = []
            var after = cursor.map { "(" + $0 } ?? "-"
            while entries.count < limit {
                let wanted = limit - entries.count
                guard case .array(let members) = try Self.check(connection.command(["ZRANGEBYLEX", Self.domainsKey, after, "+", "LIMIT", "0", String(wanted)]), "ZRANGEBYLEX") else { break }
                let domains = members.compactMap(\.text)
                guard !domains.isEmpty else { break }
                guard case .array(let values) = try Self.check(connection.command(["MGET"] + domains.map { Self.entryPrefix + $0 }), "MGET") else { break }
                var gone: [String] = []
                for (domain, value) in zip(domains, values) {
                    if case .string(let bytes) = value, let entry = Self.entry(bytes, domain: domain) {
                        entries.append(entry)
                    } else if value == .null {
                        gone.append(domain)
                    }
                }
                // Entries that expired leave their name in the set; tidy as we go.
                if !gone.isEmpty {
                    _ = try connection.command(["ZREM", Self.domainsKey] + gone)
                    _ = try connection.command(["ZREM", Self.expiryKey] + gone)
                }
                guard domains.count == wanted, let last = domains.last else { break }
                after = "(" + last
            }
            return entries
        }
    }

    public func purgeAll() async throws(STSError) {
        try await run { connection throws(STSError) in
            while case .array(let members) = try Self.check(connection.command(["ZRANGE", Self.domainsKey, "0", "499"]), "ZRANGE"), !members.isEmpty {
                let domains = members.compactMap(\.text)
                _ = try Self.check(connection.command(["DEL"] + domains.map { Self.entryPrefix + $0 }), "DEL")
                _ = try Self.check(connection.command(["ZREM", Self.domainsKey] + domains), "ZREM")
            }
            _ = try Self.check(connection.command(["DEL", Self.expiryKey]), "DEL")
        }
    }

    public func count() async throws(STSError) -> Int {
        try await run { connection throws(STSError) -> Int in
            guard case .integer(let count) = try Self.check(connection.command(["ZCARD", Self.domainsKey]), "ZCARD") else { return 0 }
            return Int(count)
        }
    }

    /// A stored value back to an entry, through the same checks as any JSON entry; one for another
    /// domain than its key, or that fails them, is treated as absent.
    static func entry(_ bytes: [UInt8], domain: String) -> CacheEntry? {
        guard let json = try? JSONParser.parse(bytes), let entry = CacheEntry(json: json), entry.domain == domain else { return nil }
        return entry
    }
}

/// Redis Sentinel: asks each sentinel in turn where the master named `masterName` is.
public struct RedisSentinel: Sendable {
    public var sentinels: [(host: String, port: Int)]
    public var masterName: String
    /// Credentials, database and timeouts for the master (and the timeouts for the sentinels).
    public var template: RedisEndpoint
    /// A password for the sentinels themselves (`sentinel_kwargs: {password: ...}` in redis-py).
    public var sentinelPassword: String?

    public init(sentinels: [(host: String, port: Int)], masterName: String, template: RedisEndpoint, sentinelPassword: String? = nil) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.template = template
        self.sentinelPassword = sentinelPassword
    }

    public func master() throws(STSError) -> RedisEndpoint {
        var problems: [String] = []
        for sentinel in sentinels {
            let endpoint = RedisEndpoint(address: .tcp(host: sentinel.host, port: sentinel.port), password: sentinelPassword,
                                         timeout: template.timeout, connectTimeout: template.connectTimeout)
            do {
                let connection = try RedisConnection(endpoint)
                let reply = try connection.command(["SENTINEL", "get-master-addr-by-name", masterName])
                guard case .array(let parts) = reply, parts.count == 2, let host = parts[0].text, let portText = parts[1].text, let port = Int(portText) else {
                    problems.append("\(endpoint): no master named \(masterName)")
                    continue
                }
                var master = template
                master.address = .tcp(host: host, port: port)
                return master
            } catch {
                problems.append(error.message)
            }
        }
        throw STSError(.internalError, "redis sentinel: no sentinel named a master \(masterName): \(problems.joined(separator: "; "))")
    }
}
