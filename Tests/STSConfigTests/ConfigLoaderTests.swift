import STSConfig
import STSCore
import XCTest

final class ConfigLoaderTests: XCTestCase {
    func load(_ text: String) throws -> ConfigLoader.Loaded {
        try ConfigLoader.load(Array(text.utf8), file: "test.yml")
    }

    func failure(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            _ = try load(text)
            XCTFail("expected the config to be refused", file: file, line: line)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return nil
        }
    }

    func testEmptyFileGivesTheOldDaemonsDefaults() throws {
        let config = try load("").config
        XCTAssertEqual(config.host, "127.0.0.1")
        XCTAssertEqual(config.port, 8461)
        XCTAssertNil(config.path)
        XCTAssertEqual(config.reusePort, true)
        XCTAssertEqual(config.shutdownTimeout, 20)
        XCTAssertEqual(config.cacheGrace, 60)
        XCTAssertEqual(config.cache.type, .internal)
        XCTAssertEqual(config.cache.cacheSize, 10_000)
        XCTAssertEqual(config.proactivePolicyFetching, ProactiveFetchingConfig())
        XCTAssertEqual(config.defaultZone.timeout, 4)
        XCTAssertEqual(config.defaultZone.requireSNI, true)
        XCTAssertEqual(config.defaultZone.strictTesting, false)
        XCTAssertEqual(config.defaultZone.tlsrpt, false)
    }

    func testTheOldDaemonsExampleConfig() throws {
        let text = """
            host: 127.0.0.1
            port: 8461
            reuse_port: true
            shutdown_timeout: 20
            cache:
              type: sqlite
              options:
                filename: "/var/lib/mta-sts/cache.db"
            default_zone:
              strict_testing: false
              timeout: 4
            zones:
              myzone:
                strict_testing: false
                timeout: 4
              nosni:
                require_sni: no
            proactive_policy_fetching:
              enabled: yes
              interval: 86400
              concurrency_limit: 100
              grace_ratio: 2
            """
        let loaded = try load(text)
        XCTAssertEqual(loaded.warnings, [])
        let config = loaded.config
        XCTAssertEqual(config.cache.type, .sqlite)
        XCTAssertEqual(config.cache.options["filename"], .scalar("/var/lib/mta-sts/cache.db", plain: false, line: 8))
        XCTAssertEqual(config.zone(named: "nosni").requireSNI, false)
        XCTAssertEqual(config.zone(named: "myzone").requireSNI, true)
        XCTAssertEqual(config.zone(named: "unknown-zone"), config.defaultZone)
        XCTAssertTrue(config.proactivePolicyFetching.enabled)
        XCTAssertEqual(config.proactivePolicyFetching.graceRatio, 2)
    }

    func testATimeoutPostfixWouldNotWaitForIsAWarningAndCut() throws {
        // The old daemon started with any timeout; so do we, at the 100 s Postfix waits.
        let loaded = try load("default_zone:\n  timeout: 300\n")
        XCTAssertEqual(loaded.config.defaultZone.timeout, 100)
        XCTAssertEqual(loaded.warnings.map(\.key), ["default_zone.timeout"])
        XCTAssertTrue(loaded.warnings[0].message.contains("100"), loaded.warnings[0].message)
        XCTAssertEqual(failure("default_zone:\n  timeout: 0\n")?.key, "default_zone.timeout")
    }

    func testZonesStartFromTheBuiltInDefaultsNotFromTheDefaultZone() throws {
        // As in the old daemon: a key a zone leaves out has its built-in default, whatever default_zone says.
        let config = try load("default_zone:\n  timeout: 9\n  tlsrpt: true\n  strict_testing: true\n  require_sni: false\n  dane: false\nzones:\n  a:\n    timeout: 3\n").config
        let a = config.zone(named: "a")
        XCTAssertEqual(a.timeout, 3)
        XCTAssertEqual([a.tlsrpt, a.strictTesting, a.requireSNI, a.dane], [false, false, true, true])
        XCTAssertEqual(config.zone(named: "unknown").timeout, 9, "an unknown map name still gets default_zone")
        XCTAssertEqual(config.zone(named: "unknown").strictTesting, true)
    }

    func testConnectionLimits() throws {
        XCTAssertEqual(DaemonConfig().maxConnections, 4096)
        XCTAssertEqual(DaemonConfig().idleTimeout, 60)
        let config = try load("max_connections: 100\nidle_timeout: 2.5\n").config
        XCTAssertEqual(config.maxConnections, 100)
        XCTAssertEqual(config.idleTimeout, 2.5)
        XCTAssertEqual(try load("max_connections: 0\nidle_timeout: 0\n").config.maxConnections, 0)
        XCTAssertEqual(failure("max_connections: -1\n")?.key, "max_connections")
        XCTAssertEqual(failure("idle_timeout: forever\n")?.key, "idle_timeout")
    }

    func testEventLoops() throws {
        XCTAssertEqual(DaemonConfig().eventLoops, 1)
        XCTAssertEqual(try load("event_loops: 4\n").config.eventLoops, 4)
        XCTAssertEqual(failure("event_loops: 0\n")?.key, "event_loops")
        XCTAssertEqual(failure("event_loops: 65\n")?.key, "event_loops")
        XCTAssertEqual(failure("event_loops: 1.5\n")?.key, "event_loops")
        XCTAssertEqual(failure("event_loops: all\n")?.key, "event_loops")
    }

    func testAReloadNamesTheChangedSettingsItCannotApply() throws {
        let base = try load("port: 9000\n").config
        let reloadable = try load("port: 9000\nstage_max_idle: 5\nshutdown_timeout: 3\ndefault_zone:\n  timeout: 9\nzones:\n  z:\n    strict_testing: true\n").config
        XCTAssertEqual(base.startOnlyChanges(to: reloadable), [], "zones, stage_max_idle and shutdown_timeout apply on reload")
        let startOnly: [(String, String)] = [
            ("port: 9001\n", "port"), ("port: 9000\nhost: ::1\n", "host"), ("port: 9000\npath: /run/s\n", "path"),
            ("port: 9000\npath: /run/s\nmode: 0600\n", "path,mode"), ("port: 9000\nreuse_port: false\n", "reuse_port"),
            ("port: 9000\nmax_connections: 5\n", "max_connections"), ("port: 9000\nidle_timeout: 5\n", "idle_timeout"),
            ("port: 9000\nevent_loops: 2\n", "event_loops"), ("port: 9000\ncache_grace: 5\n", "cache_grace"),
            ("port: 9000\ncache:\n  type: internal\n  options:\n    cache_size: 7\n", "cache"),
            ("port: 9000\nproactive_policy_fetching:\n  enabled: true\n", "proactive_policy_fetching"),
            ("port: 9000\nmetrics:\n  listen: 127.0.0.1:9461\n", "metrics.listen"),
            ("port: 9000\ndnssec_trust_anchor: /usr/share/dns/root.key\n", "dnssec_trust_anchor"),
            ("port: 9001\ncache_grace: 5\n", "port,cache_grace"),
        ]
        for (changed, keys) in startOnly {
            XCTAssertEqual(base.startOnlyChanges(to: try load(changed).config).joined(separator: ","), keys, changed)
        }
    }

    func testStageMaxIdle() throws {
        XCTAssertEqual(DaemonConfig().stageMaxIdle, 100, "Postfix's max_idle")
        XCTAssertEqual(try load("stage_max_idle: 2.5\n").config.stageMaxIdle, 2.5)
        XCTAssertEqual(try load("stage_max_idle: 0\n").config.stageMaxIdle, 0)
        XCTAssertEqual(failure("stage_max_idle: -1\n")?.key, "stage_max_idle")
        XCTAssertEqual(failure("stage_max_idle: soon\n")?.key, "stage_max_idle")
    }

    func testDANESettings() throws {
        XCTAssertNil(DaemonConfig().dnssecTrustAnchor)
        XCTAssertTrue(DaemonConfig().defaultZone.dane)
        let config = try load("dnssec_trust_anchor: /usr/share/dns/root.key\ndefault_zone:\n  dane: false\nzones:\n  z:\n    dane: true\n").config
        XCTAssertEqual(config.dnssecTrustAnchor, "/usr/share/dns/root.key")
        XCTAssertFalse(config.defaultZone.dane)
        XCTAssertTrue(config.zone(named: "z").dane)
        XCTAssertEqual(failure("default_zone:\n  dane: sometimes\n")?.key, "default_zone.dane")
    }

    func testSharedStoresNeedTheirKeys() throws {
        XCTAssertEqual(failure("cache:\n  type: redis\n  options:\n    max_connections: 5\n")?.key, "cache.options.url")
        XCTAssertEqual(failure("cache:\n  type: postgres\n")?.key, "cache.options.dsn")
        XCTAssertEqual(failure("cache:\n  type: redis_sentinel\n  options:\n    sentinels: [[a, 1]]\n")?.key, "cache.options.sentinel_master_name")
        XCTAssertEqual(failure("cache:\n  type: redis_sentinel\n  options:\n    sentinel_master_name: m\n    sentinels: [[a, port]]\n")?.key, "cache.options.sentinels")
        XCTAssertEqual(try load("cache:\n  type: redis\n  options:\n    url: redis://127.0.0.1/0\n").config.cache.type, .redis)
        XCTAssertEqual(try load("cache:\n  type: redis_sentinel\n  options:\n    sentinel_master_name: m\n    sentinels:\n      - [10.0.0.1, 26379]\n").config.cache.type, .redisSentinel)
    }

    func testUnixSocketModeIsOctalLikePyYAML() throws {
        XCTAssertEqual(try load("path: /run/sts.sock\nmode: 0666\n").config.mode, 0o666)
        XCTAssertEqual(try load("mode: 0o640\n").config.mode, 0o640)
        XCTAssertEqual(try load("mode: 438\n").config.mode, 0o666)
    }

    func testErrorsNameTheKeyAndLine() {
        let error = failure("host: 127.0.0.1\nport: 99999\n")
        XCTAssertEqual(error?.line, 2)
        XCTAssertEqual(error?.key, "port")
        XCTAssertEqual(error?.description, "test.yml:2: port: must be between 1 and 65535, not 99999")

        XCTAssertEqual(failure("zones:\n  z:\n    timeout: soon\n")?.description, "test.yml:3: zones.z.timeout: must be a number, not \"soon\"")
        XCTAssertEqual(failure("reuse_port: maybe\n")?.key, "reuse_port")
        XCTAssertEqual(failure("reuse_port: \"true\"\n")?.key, "reuse_port", "a quoted true is a string")
        XCTAssertEqual(failure("cache:\n  type: memcached\n")?.line, 2)
        XCTAssertEqual(failure("cache:\n  type: sqlite\n")?.key, "cache.options.filename")
        XCTAssertEqual(failure("default_zone: [1, 2]\n")?.key, "default_zone")
        XCTAssertEqual(failure("port: [1]\n")?.key, "port")
    }

    func testYAMLSyntaxErrorsSayWhere() {
        let error = failure("host: 127.0.0.1\ncache:\n  type: [unclosed\n")
        XCTAssertNotNil(error)
        XCTAssertGreaterThan(error?.line ?? 0, 1)
        XCTAssertEqual(failure("port: 1\nport: 2\n")?.line, 2, "duplicate keys are refused")
        XCTAssertNotNil(failure("a: 1\n---\nb: 2\n"), "one document only")
    }

    func testUnknownKeysWarn() throws {
        let loaded = try load("host: 127.0.0.1\nprot: 8461\ndefault_zone:\n  strict_tests: true\n")
        XCTAssertEqual(loaded.warnings.map(\.key), ["prot", "default_zone.strict_tests"])
        XCTAssertEqual(loaded.warnings.map(\.line), [2, 4])
    }

    func testNullKeepsTheDefault() throws {
        let config = try load("host:\nport: ~\ncache:\n").config
        XCTAssertEqual(config.host, "127.0.0.1")
        XCTAssertEqual(config.port, 8461)
    }

    // Fuzz input Fuzz/Regressions/config/int-min: a sign after the radix prefix made
    // `-0x-8000000000000000` Int.min times -1, an overflow that stopped the daemon (also on SIGHUP).
    func testASignAfterTheRadixPrefixIsNoNumber() {
        for text in ["-0x-8000000000000000", "-0-1000000000000000000000", "-0b-1", "0x-5", "0o+7", "0x", "-0b", "+"] {
            XCTAssertNil(Scalar.int(text), text)
            XCTAssertNil(Scalar.number(text), text)
        }
        XCTAssertEqual(failure("port: -0x-8000000000000000\n")?.description,
            "test.yml:1: port: must be a whole number, not \"-0x-8000000000000000\"")
    }

    // Fuzz input Fuzz/Regressions/config/zones-order: with several bad zones, the one reported depended on
    // a dictionary's order, so the same file gave different errors from run to run.
    func testTheFirstBadZoneInTheFileIsReported() {
        let text = "zones:\n" + (0..<50).map { "  z\($0): \($0)\n" }.joined()
        for _ in 0..<5 {
            XCTAssertEqual(failure(text)?.description, "test.yml:2: zones.z0: must be a mapping, not a value")
        }
    }

    func testAQuotedPortIsAPort() throws {
        // The old daemon passed `port: "8461"` to asyncio, which took the string.
        XCTAssertEqual(try load("port: \"8462\"\n").config.port, 8462)
        XCTAssertEqual(try load("port: '25'\n").config.port, 25)
        XCTAssertEqual(failure("port: \"http\"\n")?.key, "port")
        XCTAssertEqual(failure("port: \"70000\"\n")?.key, "port")
        XCTAssertEqual(failure("port: \"0\"\n")?.key, "port")
    }

    func testMergeKeysAsPyYAML() throws {
        // The old daemon's parser expands `<<`: a zone can share settings through an anchor; its own keys
        // win, and of a list of merged mappings the earlier wins.
        let text = """
            default_zone: &base
              strict_testing: true
              timeout: 9
            zones:
              merged:
                <<: *base
                timeout: 3
              listed:
                <<: [{require_sni: false, timeout: 5}, *base]
            """
        let config = try load(text).config
        XCTAssertEqual(config.zone(named: "merged").strictTesting, true)
        XCTAssertEqual(config.zone(named: "merged").timeout, 3)
        XCTAssertEqual(config.zone(named: "listed").requireSNI, false)
        XCTAssertEqual(config.zone(named: "listed").timeout, 5)
        XCTAssertEqual(config.zone(named: "listed").strictTesting, true)
        XCTAssertEqual(try load(text).warnings, [], "<< is no unknown key")
        // A quoted "<<" is an ordinary key; a merge of something else is an error that says where.
        XCTAssertEqual(try load("default_zone:\n  \"<<\": {timeout: 3}\n").warnings.map(\.key), ["default_zone.<<"])
        XCTAssertEqual(failure("default_zone:\n  <<: 3\n")?.line, 2)
        XCTAssertEqual(failure("default_zone:\n  <<: [3]\n")?.line, 2)
    }

    func testAliasBombsAreRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { text += "a\(i): &a\(i) [*a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1)]\n" }
        XCTAssertNotNil(failure(text))
    }

    func testScalars() {
        XCTAssertEqual(Scalar.int("0x1F"), 31)
        XCTAssertEqual(Scalar.int("-12"), -12)
        XCTAssertEqual(Scalar.int("1_000"), 1000)
        XCTAssertNil(Scalar.int("12a"))
        XCTAssertNil(Scalar.int("09"), "not octal")
        XCTAssertEqual(Scalar.int("0o17"), 15)
        XCTAssertEqual(Scalar.int("0b101"), 5)
        XCTAssertEqual(Scalar.int("-0x10"), -16)
        XCTAssertEqual(Scalar.number("2.5"), 2.5)
        XCTAssertEqual(Scalar.number("1e3"), 1000)
        XCTAssertNil(Scalar.number("inf"))
        XCTAssertEqual(Scalar.bool("on"), true)
        XCTAssertEqual(Scalar.bool("Off"), false)
        XCTAssertNil(Scalar.bool("tru"))
    }
}
