import STSCache
import STSConfig
import STSCore

/// The durable store a config asks for (`cache.type`): nil for `internal`, else the backend with its
/// options applied. The options were checked when the config was loaded; what only the backend can
/// check (a redis URL) is checked here.
public enum DurableCache {
    public static func open(_ config: CacheConfig) throws(STSError) -> CacheBackend? {
        func text(_ key: String) -> String? {
            if case .scalar(let value, _, _)? = config.options[key] { return value }
            return nil
        }
        switch config.type {
        case .internal:
            return nil
        case .sqlite:
            return try SQLiteCache(path: text("filename") ?? "sts-cache.db", capacity: config.cacheSize)
        case .postgres:
            return PostgresCache(dsn: text("dsn") ?? "", capacity: config.cacheSize)
        case .redis:
            var endpoint = try RedisEndpoint.parse(url: text("url") ?? "")
            try applyKeys(to: &endpoint, except: ["url"], config: config)
            return RedisCache(endpoint: endpoint, capacity: config.cacheSize)
        case .redisSentinel:
            var template = RedisEndpoint(address: .tcp(host: "", port: 0))
            try applyKeys(to: &template, except: ["sentinels", "sentinel_master_name", "sentinel_kwargs"], config: config)
            var sentinels: [(host: String, port: Int)] = []
            if case .sequence(let items, _)? = config.options["sentinels"] {
                for item in items {
                    if case .sequence(let pair, _) = item, pair.count == 2, case .scalar(let host, _, _) = pair[0],
                        case .scalar(let port, _, _) = pair[1], let number = Int(port) {
                        sentinels.append((host, number))
                    }
                }
            }
            var sentinelPassword: String?
            if case .mapping(let members, _)? = config.options["sentinel_kwargs"],
                case .scalar(let password, _, _)? = members.first(where: { $0.key == "password" })?.value {
                sentinelPassword = password
            }
            let sentinel = RedisSentinel(sentinels: sentinels, masterName: text("sentinel_master_name") ?? "", template: template, sentinelPassword: sentinelPassword)
            let names = sentinels.map { "\($0.host):\($0.port)" }.joined(separator: ",")
            return RedisCache(name: "redis sentinel \(names) master \(sentinel.masterName)", capacity: config.cacheSize) { () throws(STSError) in try sentinel.master() }
        }
    }

    /// The old daemon's redis options beside `url` (password, db, socket_timeout, ...).
    private static func applyKeys(to endpoint: inout RedisEndpoint, except: Set<String>, config: CacheConfig) throws(STSError) {
        for (key, node) in config.options.sorted(by: { $0.key < $1.key }) where !except.contains(key) && key != "cache_size" {
            guard case .scalar(let value, _, _) = node else { continue }
            try endpoint.apply(key: key, value: value)
        }
    }
}
