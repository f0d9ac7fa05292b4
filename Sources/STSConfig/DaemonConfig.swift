import STSCore

/// The daemon's configuration: the `mta-sts-daemon.yml` format of postfix-mta-sts-resolver, with its
/// defaults, plus our own keys. Read once at start (and on SIGHUP) and validated as a whole.
public struct DaemonConfig: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8461
    /// A unix socket path; when set, `host` and `port` are not used.
    public var path: String?
    /// File mode of the unix socket (`0666` in the file is octal, as in the old daemon).
    public var mode: Int?
    public var reusePort: Bool = true
    /// Seconds that existing clients get to finish on shutdown.
    public var shutdownTimeout: Double = 20
    /// Connections open at once; more are closed on accept (0: no limit). Postfix opens one per
    /// process that looks up, a few hundred on a busy host.
    public var maxConnections: Int = 4096
    /// Seconds a connection may go without a whole request while no reply is pending (0: never).
    /// Postfix's client itself drops a connection idle for 10 s.
    public var idleTimeout: Double = 60
    /// Event-loop threads that serve the connections. One answers about 100,000 cached lookups a second,
    /// more than any mail host asks; each further one competes for the cores with Postfix's own
    /// processes, and on a busy host that lengthens the slowest answers more than it adds.
    public var eventLoops: Int = 1
    /// Seconds the stage processes may go without work before they exit, to be started again by the
    /// next lookup that needs them, as Postfix's `max_idle` (0: they stay). Lookups answered from the
    /// cache need no stage.
    public var stageMaxIdle: Double = 100
    /// Seconds a cached entry is used without re-checking the TXT id.
    public var cacheGrace: Double = 60
    public var cache = CacheConfig()
    public var proactivePolicyFetching = ProactiveFetchingConfig()
    public var defaultZone = ZoneConfig()
    public var zones: [String: ZoneConfig] = [:]
    /// Where the Prometheus metrics are served (`host:port`); off when nil.
    public var metricsListen: String?
    /// The DNSSEC trust anchor file (e.g. /usr/share/dns/root.key) that lets the daemon validate DANE
    /// records itself. Without one, DANE is not looked up and MTA-STS answers stand, as in the old daemon.
    public var dnssecTrustAnchor: String?

    public init() {}

    /// The keys (as the config file names them) whose value in `other` a reload cannot apply: the
    /// listener, the caches, the proactive refresh, metrics and DANE are set up once, at start, and
    /// take a new value at the next start. What a reload does apply: the zones, `stage_max_idle` and
    /// `shutdown_timeout`.
    public func startOnlyChanges(to other: DaemonConfig) -> [String] {
        var changed: [String] = []
        func compare<Value: Equatable>(_ key: String, _ value: (DaemonConfig) -> Value) {
            if value(self) != value(other) { changed.append(key) }
        }
        compare("host") { $0.host }
        compare("port") { $0.port }
        compare("path") { $0.path }
        compare("mode") { $0.mode }
        compare("reuse_port") { $0.reusePort }
        compare("max_connections") { $0.maxConnections }
        compare("idle_timeout") { $0.idleTimeout }
        compare("event_loops") { $0.eventLoops }
        compare("cache_grace") { $0.cacheGrace }
        compare("cache") { $0.cache }
        compare("proactive_policy_fetching") { $0.proactivePolicyFetching }
        compare("metrics.listen") { $0.metricsListen }
        compare("dnssec_trust_anchor") { $0.dnssecTrustAnchor }
        return changed
    }

    /// The zone for a socketmap name: its own section, else `default_zone`.
    public func zone(named name: String) -> ZoneConfig {
        zones[name] ?? defaultZone
    }
}

public struct CacheConfig: Sendable, Equatable {
    public enum Backend: String, Sendable, CaseIterable {
        case `internal`, sqlite, redis
        case redisSentinel = "redis_sentinel"
        case postgres
    }

    public var type: Backend = .internal
    /// The backend's options as written (strings, numbers and lists), checked by the backend itself.
    public var options: [String: YAMLNode] = [:]
    /// `options.cache_size` for the internal backend, and the bound of every backend's entry count.
    public var cacheSize: Int = 10_000

    public init() {}
}

public struct ProactiveFetchingConfig: Sendable, Equatable {
    public var enabled = false
    /// Seconds between refresh runs.
    public var interval: Double = 86400
    public var concurrencyLimit = 100
    /// A policy is refreshed when less than interval × grace_ratio of its life is left.
    public var graceRatio: Double = 2.0

    public init() {}
}

public struct ZoneConfig: Sendable, Equatable {
    public var strictTesting = false
    /// Seconds a lookup may take on the request path.
    public var timeout: Double = 4
    /// Postfix waits at most 100 s for a socketmap reply.
    public static let maxTimeout: Double = 100
    public var requireSNI = true
    public var tlsrpt = false
    /// DANE precedence (RFC 8461 §2) for this zone; it takes effect when `dnssecTrustAnchor` is set.
    public var dane = true

    public init() {}

    /// The answer-rendering part of the zone.
    public var answerOptions: ZoneOptions {
        ZoneOptions(requireSNI: requireSNI, strictTesting: strictTesting, tlsrpt: tlsrpt)
    }
}
