import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's signals: SIGHUP reloads; the first SIGTERM or SIGINT stops gracefully; a second one
/// exits at once.
public final class SignalHandling: @unchecked Sendable {
    private let logger: Logger
    private let onReload: @Sendable () -> Void
    private let onStop: @Sendable () async -> Void
    private let queue = DispatchQueue(label: "sts-signals")
    private var sources: [DispatchSourceSignal] = []
    private var stopping = false
    private var stopped: Task<Void, Never>?

    public init(logger: Logger, onReload: @escaping @Sendable () -> Void, onStop: @escaping @Sendable () async -> Void) {
        self.logger = logger
        self.onReload = onReload
        self.onStop = onStop
    }

    public func start() {
        for number in [SIGHUP, SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in handle(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func handle(_ number: Int32) {
        if number == SIGHUP {
            logger.info("SIGHUP: reloading")
            onReload()
            return
        }
        if stopping {
            logger.warning("second stop signal: exiting now")
            exit(1)
        }
        stopping = true
        let onStop = self.onStop
        stopped = Task {
            await onStop()
            exit(0)
        }
    }

    /// Returns once a stop has finished (or at once if none began).
    public func waitForStop() async {
        let task = queue.sync { stopped }
        await task?.value
    }
}
