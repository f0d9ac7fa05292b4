import STSCore

/// Reads a daemon config file into a validated `DaemonConfig`. Every error names the file, the line and
/// the key; keys we do not know are reported as warnings (a typo should be seen, not fatal).
public enum ConfigLoader {
    public struct Loaded: Sendable {
        public var config: DaemonConfig
        public var warnings: [ConfigError]
    }

    public static func load(path: String) throws(ConfigError) -> Loaded {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path, limit: YAMLReader.maxBytes + 1)
        } catch {
            throw ConfigError(file: path, line: 0, key: "", message: error.message)
        }
        return try load(bytes, file: path)
    }

    public static func load(_ text: [UInt8], file: String) throws(ConfigError) -> Loaded {
        let root: YAMLNode?
        do {
            root = try YAMLReader.read(text)
        } catch {
            throw ConfigError(file: file, line: error.line, key: "", message: error.message)
        }
        var reader = Reader(file: file)
        let config = try reader.daemon(root)
        return Loaded(config: config, warnings: reader.warnings)
    }

    /// Walks the tree with the key path in hand, so every message can say where it is.
    struct Reader {
        let file: String
        var warnings: [ConfigError] = []

        func error(_ node: YAMLNode?, _ key: String, _ message: String) -> ConfigError {
            ConfigError(file: file, line: node?.line ?? 0, key: key, message: message)
        }

        mutating func members(_ node: YAMLNode?, _ key: String, known: Set<String>) throws(ConfigError) -> [String: YAMLNode] {
            guard let node else { return [:] }
            if case .scalar(let text, true, _) = node, Scalar.isNull(text) { return [:] }
            guard case .mapping(let members, _) = node else {
                throw error(node, key, "must be a mapping, not \(node.kindName)")
            }
            var result: [String: YAMLNode] = [:]
            for member in members {
                let path = key.isEmpty ? member.key : "\(key).\(member.key)"
                if !known.isEmpty && !known.contains(member.key) {
                    warnings.append(ConfigError(file: file, line: member.keyLine, key: path, message: "unknown key, ignored"))
                    continue
                }
                result[member.key] = member.value
            }
            return result
        }

        mutating func daemon(_ root: YAMLNode?) throws(ConfigError) -> DaemonConfig {
            var config = DaemonConfig()
            let top = try members(root, "", known: ["host", "port", "path", "mode", "reuse_port", "shutdown_timeout", "max_connections", "idle_timeout", "event_loops", "stage_max_idle", "cache_grace", "cache", "proactive_policy_fetching", "default_zone", "zones", "metrics", "dnssec_trust_anchor"])
            if let node = top["host"], let value = try string(node, "host") { config.host = value }
            if let node = top["port"], let value = try port(node, "port") { config.port = value }
            if let node = top["path"], let value = try string(node, "path") { config.path = value }
            if let node = top["mode"], let value = try int(node, "mode", in: 0...0o7777) { config.mode = value }
            if let node = top["reuse_port"], let value = try bool(node, "reuse_port") { config.reusePort = value }
            if let node = top["shutdown_timeout"], let value = try number(node, "shutdown_timeout", in: 0...3600) { config.shutdownTimeout = value }
            if let node = top["max_connections"], let value = try int(node, "max_connections", in: 0...1_000_000) { config.maxConnections = value }
            if let node = top["idle_timeout"], let value = try number(node, "idle_timeout", in: 0...86400) { config.idleTimeout = value }
            if let node = top["event_loops"], let value = try int(node, "event_loops", in: 1...64) { config.eventLoops = value }
            if let node = top["stage_max_idle"], let value = try number(node, "stage_max_idle", in: 0...86400) { config.stageMaxIdle = value }
            if let node = top["cache_grace"], let value = try number(node, "cache_grace", in: 0...31_557_600) { config.cacheGrace = value }
            config.cache = try cache(top["cache"])
            config.proactivePolicyFetching = try proactive(top["proactive_policy_fetching"])
            config.defaultZone = try zone(top["default_zone"], "default_zone", base: ZoneConfig())
            if let node = top["zones"] {
                let zones = try members(node, "zones", known: [])
                // In file order: in a dictionary's order, which bad zone is reported would change from run to run.
                let names: [String] = if case .mapping(let list, _) = node { list.map(\.key) } else { [] }
                // Each zone starts from the built-in defaults, not from `default_zone`, as in the old
                // daemon: the same file must mean the same policy to both.
                for name in names {
                    guard let zoneNode = zones[name] else { continue }
                    config.zones[name] = try zone(zoneNode, "zones.\(name)", base: ZoneConfig())
                }
            }
            let metrics = try members(top["metrics"], "metrics", known: ["listen"])
            if let node = metrics["listen"] { config.metricsListen = try string(node, "metrics.listen") }
            if let node = top["dnssec_trust_anchor"] { config.dnssecTrustAnchor = try string(node, "dnssec_trust_anchor") }
            return config
        }

        mutating func cache(_ node: YAMLNode?) throws(ConfigError) -> CacheConfig {
            var cache = CacheConfig()
            let fields = try members(node, "cache", known: ["type", "options"])
            if let typeNode = fields["type"], let name = try string(typeNode, "cache.type") {
                guard let backend = CacheConfig.Backend(rawValue: name) else {
                    throw error(typeNode, "cache.type", "must be one of \(CacheConfig.Backend.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(name)\"")
                }
                cache.type = backend
            }
            cache.options = try members(fields["options"], "cache.options", known: [])
            if let sizeNode = cache.options["cache_size"], let size = try int(sizeNode, "cache.options.cache_size", in: 1...100_000_000) {
                cache.cacheSize = size
            }
            func required(_ key: String, _ what: String) throws(ConfigError) {
                guard let value = cache.options[key], try string(value, "cache.options.\(key)") != nil else {
                    throw error(fields["options"] ?? node, "cache.options.\(key)", "is required for the \(what) cache")
                }
            }
            switch cache.type {
            case .internal: break
            case .sqlite: try required("filename", "sqlite")
            case .redis: try required("url", "redis")
            case .postgres: try required("dsn", "postgres")
            case .redisSentinel:
                try required("sentinel_master_name", "redis_sentinel")
                guard case .sequence(let sentinels, _)? = cache.options["sentinels"], !sentinels.isEmpty else {
                    throw error(cache.options["sentinels"] ?? fields["options"] ?? node, "cache.options.sentinels", "must be a list of [host, port] pairs")
                }
                for sentinel in sentinels {
                    guard case .sequence(let pair, _) = sentinel, pair.count == 2, case .scalar(let host, _, _) = pair[0], !host.isEmpty,
                        case .scalar(let portText, _, _) = pair[1], let port = Int(portText), (1...65535).contains(port)
                    else { throw error(sentinel, "cache.options.sentinels", "each sentinel must be [host, port]") }
                }
            }
            return cache
        }

        mutating func proactive(_ node: YAMLNode?) throws(ConfigError) -> ProactiveFetchingConfig {
            var proactive = ProactiveFetchingConfig()
            let fields = try members(node, "proactive_policy_fetching", known: ["enabled", "interval", "concurrency_limit", "grace_ratio"])
            if let n = fields["enabled"], let v = try bool(n, "proactive_policy_fetching.enabled") { proactive.enabled = v }
            if let n = fields["interval"], let v = try number(n, "proactive_policy_fetching.interval", in: 1...31_557_600) { proactive.interval = v }
            if let n = fields["concurrency_limit"], let v = try int(n, "proactive_policy_fetching.concurrency_limit", in: 1...10_000) { proactive.concurrencyLimit = v }
            if let n = fields["grace_ratio"], let v = try number(n, "proactive_policy_fetching.grace_ratio", in: 0.001...1_000_000) { proactive.graceRatio = v }
            return proactive
        }

        mutating func zone(_ node: YAMLNode?, _ key: String, base: ZoneConfig) throws(ConfigError) -> ZoneConfig {
            var zone = base
            let fields = try members(node, key, known: ["strict_testing", "timeout", "require_sni", "tlsrpt", "dane"])
            if let n = fields["strict_testing"], let v = try bool(n, "\(key).strict_testing") { zone.strictTesting = v }
            // Postfix gives up on a socketmap lookup after 100 s; a longer budget could never be used.
            // The old daemon took any value, so a longer one is a warning (and 100), not an error.
            if let n = fields["timeout"], let v = try number(n, "\(key).timeout", in: 0.001...1e9) {
                if v > ZoneConfig.maxTimeout {
                    warnings.append(error(n, "\(key).timeout", "more than \(Int(ZoneConfig.maxTimeout)) seconds, which Postfix does not wait; \(Int(ZoneConfig.maxTimeout)) used"))
                }
                zone.timeout = min(v, ZoneConfig.maxTimeout)
            }
            if let n = fields["require_sni"], let v = try bool(n, "\(key).require_sni") { zone.requireSNI = v }
            if let n = fields["tlsrpt"], let v = try bool(n, "\(key).tlsrpt") { zone.tlsrpt = v }
            if let n = fields["dane"], let v = try bool(n, "\(key).dane") { zone.dane = v }
            return zone
        }

        // Scalars. A null value (`key:` with nothing after it) keeps the default.

        func scalar(_ node: YAMLNode, _ key: String) throws(ConfigError) -> (text: String, plain: Bool)? {
            guard case .scalar(let text, let plain, _) = node else {
                throw error(node, key, "must be a single value, not \(node.kindName)")
            }
            if plain && Scalar.isNull(text) { return nil }
            return (text, plain)
        }

        func string(_ node: YAMLNode, _ key: String) throws(ConfigError) -> String? {
            guard let (text, _) = try scalar(node, key) else { return nil }
            guard !text.isEmpty else { throw error(node, key, "must not be empty") }
            return text
        }

        func bool(_ node: YAMLNode, _ key: String) throws(ConfigError) -> Bool? {
            guard let (text, plain) = try scalar(node, key) else { return nil }
            guard plain, let value = Scalar.bool(text) else { throw error(node, key, "must be true or false, not \"\(text)\"") }
            return value
        }

        func int(_ node: YAMLNode, _ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
            guard let (text, plain) = try scalar(node, key) else { return nil }
            guard plain, let value = Scalar.int(text) else { throw error(node, key, "must be a whole number, not \"\(text)\"") }
            guard range.contains(value) else { throw error(node, key, "must be between \(range.lowerBound) and \(range.upperBound), not \(value)") }
            return value
        }

        /// A port number; quoted digits too, which the old daemon handed to asyncio as a service string.
        func port(_ node: YAMLNode, _ key: String) throws(ConfigError) -> Int? {
            if case .scalar(let text, false, _) = node, !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                return try int(.scalar(String(Int(text)!), plain: true, line: node.line), key, in: 1...65535)
            }
            return try int(node, key, in: 1...65535)
        }

        func number(_ node: YAMLNode, _ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
            guard let (text, plain) = try scalar(node, key) else { return nil }
            guard plain, let value = Scalar.number(text) else { throw error(node, key, "must be a number, not \"\(text)\"") }
            guard range.contains(value) else { throw error(node, key, "must be between \(Scalar.format(range.lowerBound)) and \(Scalar.format(range.upperBound)), not \(text)") }
            return value
        }
    }
}

/// YAML 1.1 plain scalars as PyYAML reads them (the old daemon's parser), so a config file means the
/// same thing to both daemons: `yes`/`on` are true, `0666` is octal.
public enum Scalar {
    public static func isNull(_ text: String) -> Bool {
        ["", "~", "null", "Null", "NULL"].contains(text)
    }

    public static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y": true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N": false
        default: nil
        }
    }

    public static func int(_ text: String) -> Int? {
        var digits = text.replacingUnderscores()
        var sign = 1
        if digits.hasPrefix("-") { sign = -1; digits.removeFirst() } else if digits.hasPrefix("+") { digits.removeFirst() }
        guard !digits.isEmpty else { return nil }
        let value: Int?
        if digits.hasPrefix("0x") {
            value = unsigned(digits.dropFirst(2), radix: 16)
        } else if digits.hasPrefix("0o") {
            value = unsigned(digits.dropFirst(2), radix: 8)
        } else if digits.hasPrefix("0b") {
            value = unsigned(digits.dropFirst(2), radix: 2)
        } else if digits.count > 1 && digits.hasPrefix("0") {
            value = unsigned(digits.dropFirst(), radix: 8)
        } else {
            value = unsigned(Substring(digits), radix: 10)
        }
        return value.map { $0 * sign }
    }

    /// Digits of the radix only: `Int(_:radix:)` would also take a sign (`0x-8000000000000000`), and
    /// Int.min times the outer sign overflows.
    private static func unsigned(_ digits: Substring, radix: Int) -> Int? {
        guard !digits.isEmpty, digits.allSatisfy({ $0.hexDigitValue.map { $0 < radix } ?? false }) else { return nil }
        return Int(digits, radix: radix)
    }

    public static func number(_ text: String) -> Double? {
        if let whole = int(text) { return Double(whole) }
        let cleaned = text.replacingUnderscores()
        guard cleaned.allSatisfy({ $0.isASCIIDigit || "+-.eE".contains($0) }), let value = Double(cleaned), value.isFinite else { return nil }
        return value
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
