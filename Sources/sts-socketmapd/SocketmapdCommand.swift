import ArgumentParser
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOCore
import Prometheus
import STSCache
import STSConfig
import STSCore
import STSDaemon
import STSSocketmap
import STSStage

@main
struct SocketmapdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sts-socketmapd",
        abstract: "Answer Postfix's TLS policy lookups (socketmap) from domains' MTA-STS policies.",
        discussion: """
            A drop-in replacement for mta-sts-daemon: the same config file and the same Postfix line, \
            smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix. Lookups run through the stages \
            sts-dns | sts-fetch | sts-parse, kept running as child processes and found next to this program. \
            Without -c and without /etc/mta-sts-daemon.yml it runs on an embedded default: 127.0.0.1:8461 \
            with a sqlite cache in ./var. See sts-socketmapd(8) and sts-socketmapd.yml(5).
            """
    )

    static let defaultConfigPath = "/etc/mta-sts-daemon.yml"

    @Option(name: [.short, .customLong("config")], help: ArgumentHelp("Config file (default \(defaultConfigPath)).", valueName: "file"))
    var config: String?

    @Option(name: [.short, .customLong("verbosity")], help: ArgumentHelp("Log level: debug, info, warn, error, fatal or crit (the same as fatal).", valueName: "level"))
    var verbosity: String = "info"

    @Option(name: [.short, .customLong("logfile")], help: ArgumentHelp("Write the log to this file instead of standard error.", valueName: "file"))
    var logfile: String?

    @Option(help: ArgumentHelp("Log line format: text or json.", valueName: "format"))
    var logFormat: String = "text"

    @Option(name: [.short, .customLong("pidfile")], help: ArgumentHelp("Write the process id to this file.", valueName: "file"))
    var pidfile: String?

    @Option(name: [.short, .customLong("user")], help: ArgumentHelp("Run as this user once the listeners are bound.", valueName: "user"))
    var user: String?

    @Option(name: [.short, .customLong("group")], help: ArgumentHelp("Run as this group once the listeners are bound (default: the user's).", valueName: "group"))
    var group: String?

    @Flag(help: "Check the config file and exit: 0 valid, 1 invalid.")
    var checkConfig = false

    /// mta-sts-daemon's flag; accepted so existing unit files keep working, and has no effect here.
    @Flag(help: .hidden)
    var disableUvloop = false

    static let levels: [String: Logger.Level] = ["debug": .debug, "info": .info, "warn": .warning, "warning": .warning, "error": .error, "fatal": .critical, "crit": .critical]

    func validate() throws {
        guard Self.levels[verbosity] != nil else { throw ValidationError("-v must be one of debug, info, warn, error, fatal, crit") }
        guard LineLogHandler.Format(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
    }

    // The daemon's setup runs on the main thread, which then waits for the end: the thread that
    // drops privileges must stay alive, or the process would still show its old ids.
    func run() throws {
        let sinkFD: Int32
        if let logfile {
            sinkFD = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            guard sinkFD >= 0 else { CommandFailure.exit("sts-socketmapd", "cannot open log file \(logfile): \(String(cString: strerror(errno)))") }
        } else {
            sinkFD = STDERR_FILENO
        }
        let level = Self.levels[verbosity]!
        let format = LineLogHandler.Format(rawValue: logFormat) ?? .text
        let sink = LineLogHandler.Sink(fd: sinkFD, format: format, label: "sts-socketmapd")
        let logger = Logger(label: "sts-socketmapd") { label in LineLogHandler(label: label, sink: sink, level: level, format: format) }

        let daemonConfig = loadConfig(logger: logger)
        if checkConfig {
            if let anchor = daemonConfig.dnssecTrustAnchor, let problem = Self.trustAnchorProblem(anchor) {
                CommandFailure.exit("sts-socketmapd", problem, code: 1)
            }
            print("config OK")
            return
        }
        if let pidfile {
            if let failure = Self.writePIDFile(pidfile) {
                CommandFailure.exit("sts-socketmapd", "cannot write pid file \(pidfile): \(failure)")
            }
        }

        // Metrics are recorded always (cheaply) and served only when a listener is configured.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        if let listen = daemonConfig.metricsListen {
            do {
                _ = try Blocking.wait { () async throws(STSError) -> Channel in try await MetricsServer(registry: registry, idleTimeout: daemonConfig.idleTimeout > 0 ? .milliseconds(Int64(daemonConfig.idleTimeout * 1000)) : nil).start(listen: listen) }
                logger.info("metrics", metadata: ["listen": "\(listen)", "path": "/metrics"])
            } catch {
                CommandFailure.exit("sts-socketmapd", error.message)
            }
        }

        let hot = MemoryCache(capacity: daemonConfig.cache.cacheSize)
        let durable: CacheBackend?
        do {
            durable = try DurableCache.open(daemonConfig.cache)
        } catch {
            // The daemon still answers, from memory; a broken cache must not stop mail.
            logger.error("cache unusable, running without a durable cache", metadata: ["error": "\(error.message)"])
            durable = nil
        }

        // Each stage works on this many records at once, and the daemon puts no more in the pipeline.
        let stageConcurrency = 1000
        let concurrencyArguments = ["--concurrency", "\(stageConcurrency)"]
        var dnsArguments = concurrencyArguments
        var daneCache: DANECache?
        if let anchor = daemonConfig.dnssecTrustAnchor {
            dnsArguments += ["--dane", "--trust-anchor", anchor]
            daneCache = DANECache(capacity: daemonConfig.cache.cacheSize)
            logger.info("DANE precedence on: MX and TLSA records are validated with the trust anchor", metadata: ["trust_anchor": "\(anchor)"])
        } else {
            logger.notice("DANE precedence off: no dnssec_trust_anchor in the config; MTA-STS answers are given as they are")
        }
        let stages = StageClient(commands: [
            .init("sts-dns", dnsArguments),
            .init("sts-fetch", concurrencyArguments),
            .init("sts-parse", concurrencyArguments),
        ], maxIdle: Self.stageMaxIdle(daemonConfig), maxInFlight: stageConcurrency, logger: logger) {
            // The burst of work that needed the stages is over: what it freed goes back to the system.
            Heap.returnFreePages()
        }
        let rules = CacheRules(grace: Int64(daemonConfig.cacheGrace))
        let service = PolicyService(rules: rules, hot: hot, durable: durable, stages: stages, logger: logger, dane: daneCache)
        let holder = ConfigHolder(daemonConfig)
        let decisions = DecisionLog(sink: sink, format: format, label: logger.label, level: level)
        let responder = PolicyResponder(config: holder, service: service, logger: logger, decisions: decisions)
        let descriptors = DescriptorLimit.raiseToHardLimit()
        if daemonConfig.maxConnections == 0 || descriptors < daemonConfig.maxConnections + 64 {
            logger.warning("the descriptor limit may be reached before max_connections", metadata: ["limit": "\(descriptors)", "max_connections": "\(daemonConfig.maxConnections)"])
        }
        let limits = ConnectionLimits(
            maxConnections: daemonConfig.maxConnections,
            idleTimeout: daemonConfig.idleTimeout > 0 ? .milliseconds(Int64(daemonConfig.idleTimeout * 1000)) : nil)
        let server = SocketmapServer(responder: responder, threads: daemonConfig.eventLoops, limits: limits) { refused in
            DaemonMetrics.connectionRefused()
            // One line for the first and then every thousandth: a flood must not flood the log too.
            if refused == 1 || refused % 1000 == 0 {
                logger.warning("connection refused: max_connections reached", metadata: ["max_connections": "\(limits.maxConnections)", "refused_so_far": "\(refused)"])
            }
        }

        // Sockets from systemd (sts-socketmapd.socket) replace the configured listener.
        let addresses: [ListenAddress]
        do {
            let activated = try SocketActivation.inherited()
            if activated.isEmpty {
                addresses = [daemonConfig.path.map { .unix(path: $0, mode: daemonConfig.mode) } ?? .tcp(host: daemonConfig.host, port: daemonConfig.port)]
            } else {
                addresses = activated.map { .inherited(fd: $0.fd, name: $0.name) }
                logger.info("using sockets passed by the service manager; host, port and path are not used", metadata: ["sockets": "\(activated.count)"])
            }
        } catch {
            CommandFailure.exit("sts-socketmapd", error.message)
        }
        var channels: [Channel] = []
        for address in addresses {
            do {
                channels.append(try Blocking.wait { () async throws(STSError) -> Channel in try await server.listen(on: address, reusePort: daemonConfig.reusePort) })
            } catch {
                CommandFailure.exit("sts-socketmapd", error.message)
            }
        }
        do {
            try Privileges.drop(user: user, group: group)
        } catch {
            CommandFailure.exit("sts-socketmapd", error.message)
        }
        // Tried as the user the stages will run as: an anchor only root can read would pass before the drop.
        if let anchor = daemonConfig.dnssecTrustAnchor, let problem = Self.trustAnchorProblem(anchor) {
            CommandFailure.exit("sts-socketmapd", problem)
        }
        if logfile != nil {
            // The stages write their messages to the standard error they inherit: from here on (start-up
            // failures above still reach the terminal) it is the log file, and the log is written there.
            guard dup2(sinkFD, STDERR_FILENO) >= 0 else {
                CommandFailure.exit("sts-socketmapd", "cannot make the log file standard error: \(String(cString: strerror(errno)))")
            }
            sink.replace(with: STDERR_FILENO)
        }
        logger.info("listening", metadata: ["address": "\(addresses.map(\.description).joined(separator: " "))", "cache": "\(daemonConfig.cache.type.rawValue)", "uid": "\(getuid())"])
        sink.flush()  // the start-up lines go out at once; later ones in batches
        let proactive = daemonConfig.proactivePolicyFetching
        if proactive.enabled {
            Task {
                await service.refreshProactively(interval: .milliseconds(Int64(proactive.interval * 1000)), graceRatio: proactive.graceRatio, concurrency: proactive.concurrencyLimit)
            }
        }
        let signals = SignalHandling(logger: logger) { [self] in
            // SIGHUP: a new config takes effect for lookups at once; a refused one changes nothing.
            if let logfile {
                // Standard error is the log file (see above): the sink and stages started from now on write
                // to the new file; stages already running keep the old one until they are started again.
                let fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
                if fd >= 0 {
                    sink.flush()
                    dup2(fd, STDERR_FILENO)
                    close(fd)
                }
            }
            guard config != nil || access(Self.defaultConfigPath, F_OK) == 0 else { return }
            do {
                let loaded = try ConfigLoader.load(path: config ?? Self.defaultConfigPath)
                for warning in loaded.warnings { logger.warning("\(warning)") }
                let startOnly = holder.config.startOnlyChanges(to: loaded.config)
                if !startOnly.isEmpty {
                    logger.warning("changed settings that take effect at the next restart", metadata: ["keys": "\(startOnly.joined(separator: ","))"])
                }
                holder.replace(with: loaded.config)
                stages.maxIdle = Self.stageMaxIdle(loaded.config)
                logger.info("configuration reloaded")
            } catch {
                logger.error("new configuration refused, keeping the old one", metadata: ["error": "\(error)"])
            }
        } onStop: {
            SystemdNotifier.notify("STOPPING=1")
            logger.info("stopping: draining connections", metadata: ["timeout_s": "\(holder.config.shutdownTimeout)"])
            await server.drain(timeout: .milliseconds(Int64(holder.config.shutdownTimeout * 1000)))
            // The stages finish what they hold; past that they are killed. Either way they are reaped.
            await stages.shutdown(reapingWithin: .seconds(5))
            await durable?.close()
            if let pidfile { unlink(pidfile) }
            logger.info("stopped")
            sink.flush()
        }
        signals.start()
        SystemdNotifier.notify("READY=1\nMAINPID=\(getpid())")
        for channel in channels { try channel.closeFuture.wait() }
        Blocking.wait { await signals.waitForStop() }
    }

    /// Why `command` cannot start (it said more on stderr), or nil once it started and exited 0 at the
    /// end of an empty input.
    static func startFailure(of command: StagePipeline.Command) -> String? {
        do {
            let probe = try StagePipeline([command])
            probe.finishInput()
            let status = probe.exitStatuses()[0]
            close(probe.outputFD)
            return status == 0 ? nil : "\(command.name) exits with status \(status) (its message is above)"
        } catch {
            return error.message
        }
    }

    /// Why the trust anchor cannot be used, or nil. Readable is not usable, and sts-dns finds out only as
    /// it starts: a stage that cannot start would be started again and again, every lookup answered
    /// TEMP. So it is started once here, on no input.
    static func trustAnchorProblem(_ anchor: String) -> String? {
        guard access(anchor, R_OK) == 0 else { return "dnssec_trust_anchor: cannot read \(anchor)" }
        if let problem = startFailure(of: .init("sts-dns", ["--dane", "--trust-anchor", anchor])) {
            return "dnssec_trust_anchor: \(anchor) is not usable: \(problem)"
        }
        return nil
    }

    /// `stage_max_idle` for the stage client: 0 means the stages never go.
    static func stageMaxIdle(_ config: DaemonConfig) -> Duration? {
        config.stageMaxIdle > 0 ? .milliseconds(Int64(config.stageMaxIdle * 1000)) : nil
    }

    /// Writes our pid to a file beside `path` and renames it over `path`, so a reader never sees half
    /// a pid and a symlink planted at `path` is replaced, not followed. nil, or why it failed.
    static func writePIDFile(_ path: String) -> String? {
        let temporary = "\(path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        let written = FileDescriptorWriter.writeAll(fd, Array("\(getpid())\n".utf8))
        let failure = written ? nil : String(cString: strerror(errno))
        close(fd)
        guard failure == nil, rename(temporary, path) == 0 else {
            let why = failure ?? String(cString: strerror(errno))
            unlink(temporary)
            return why
        }
        return nil
    }

    /// The config file, or the embedded default; an invalid file stops the daemon with a message that
    /// names the key and the line.
    func loadConfig(logger: Logger) -> DaemonConfig {
        let path = config ?? Self.defaultConfigPath
        if config == nil && access(path, F_OK) != 0 {
            var embedded = DaemonConfig()
            embedded.cache.type = .sqlite
            mkdir("var", 0o777)  // if this fails, opening the cache in it says why
            embedded.cache.options["filename"] = .scalar("var/sts-cache.db", plain: true, line: 0)
            logger.notice("no config file; using the embedded default", metadata: ["missing": "\(path)", "cache": "sqlite var/sts-cache.db"])
            return embedded
        }
        do {
            let loaded = try ConfigLoader.load(path: path)
            for warning in loaded.warnings { logger.warning("\(warning)") }
            return loaded.config
        } catch {
            CommandFailure.exit("sts-socketmapd", "\(error)", code: checkConfig ? 1 : 2)
        }
    }
}

/// Runs async work from the main thread and waits for it there.
enum Blocking {
    static func wait<T: Sendable>(_ work: @escaping @Sendable () async throws(STSError) -> T) throws(STSError) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await work()) } catch { box.result = .failure(error as? STSError ?? STSError(.internalError, "\(error)")) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    static func wait(_ work: @escaping @Sendable () async -> Void) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await work()
            done.signal()
        }
        done.wait()
    }

    /// Written by the task before it signals, read after the wait: the semaphore orders the two.
    final class ResultBox<T>: @unchecked Sendable {
        var result: Result<T, STSError>?
    }
}
