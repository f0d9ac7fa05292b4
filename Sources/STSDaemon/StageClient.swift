import Dispatch
import Logging
import STSCore
import STSStage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side of the persistent stage pipeline (`sts-dns | sts-fetch | sts-parse`): records go
/// in tagged with a correlation `id`, results come back out of order and are matched by it.
///
/// Supervision: when any stage exits, the others are killed (a watcher thread per stage notices the
/// exit without reaping it; the reader reaps), every lookup in flight on the pipeline fails at once
/// with an `internal-error`, and a new pipeline is started `restartDelay` later without waiting for a
/// lookup (a lookup that comes first waits for the delay and starts it). Starts are spaced at least
/// `restartDelay` apart, and further when pipelines keep dying young, so a stage that cannot start
/// does not spin.
///
/// Idle stages exit, as Postfix's daemons do after `max_idle`: when no record has gone in or come out
/// for `maxIdle`, the pipeline's input is closed, the stages see its end and exit, and the next lookup
/// that needs them starts a new pipeline. An idle daemon then holds only its own memory. That is not a
/// restart: it is counted apart (`idleExits`).
///
/// Load: at most `maxInFlight` records are in the pipeline at once (the stages' own `--concurrency`),
/// so that the stages always have room for what they are sent; a lookup past that, or one that finds
/// the pipeline's input full anyway (a stage that stopped reading), fails at once rather than waiting
/// for room. A flood of lookups whose policy hosts hang (each fetch taking its whole timeout) then
/// costs the lookups past the limit a quick TEMP, not the daemon its threads.
public final class StageClient: Sendable {
    public let commands: [StagePipeline.Command]
    public let restartDelay: Duration
    public let maxInFlight: Int
    private let logger: Logger?
    private let afterIdleExit: (@Sendable () -> Void)?

    private struct Running {
        var pipeline: StagePipeline
        var generation: Int
        /// Signalled by the reader once it has reaped every stage of this generation.
        let reaped = DispatchSemaphore(value: 0)
    }

    private struct Waiting {
        var generation: Int
        var continuation: CheckedContinuation<Result<JSONObject, STSError>, Never>
        var deadline: ContinuousClock.Instant
        var timeout: Duration
    }

    private struct State {
        var running: Running?
        var generation = 0
        var lastStart: ContinuousClock.Instant?
        var nextID = 0
        var pending: [String: Waiting] = [:]
        /// Whether the task that fails lookups past their deadline runs.
        var sweeping = false
        var restarts = 0
        var shutDown = false
        /// Generations in a row that died within a second of their start: the automatic restart
        /// backs off (doubling from `restartDelay`, at most 10 s) for a stage that cannot stay up.
        var quickDeaths = 0
        /// When a record last went into or came out of the pipeline.
        var lastActivity = ContinuousClock.now
        var maxIdle: Duration?
        /// Whether the task that retires an idle pipeline runs.
        var watchingIdle = false
        /// The last pipeline ended because it was idle: starting the next one is not a restart.
        var endedIdle = false
        var idleExits = 0
    }

    private let state: Mutex<State>
    /// Whole lines only: writes from concurrent lookups must not interleave.
    private let writeLock = Mutex(())

    /// `maxIdle`: how long the stages may go without work before they are let go (nil: never);
    /// `afterIdleExit` runs each time they were (the daemon gives its freed heap back then).
    public init(commands: [StagePipeline.Command], restartDelay: Duration = .milliseconds(200), maxIdle: Duration? = nil,
                maxInFlight: Int = 1000, logger: Logger? = nil, afterIdleExit: (@Sendable () -> Void)? = nil) {
        self.commands = commands
        self.restartDelay = restartDelay
        self.maxInFlight = max(1, maxInFlight)
        self.logger = logger
        self.afterIdleExit = afterIdleExit
        self.state = Mutex(State(maxIdle: maxIdle))
        signal(SIGPIPE, SIG_IGN)
    }

    /// How many times the pipeline was started again after a stage died (not after an idle exit).
    public var restarts: Int { state.withLock { $0.restarts } }

    /// How many times the pipeline was let go for being idle.
    public var idleExits: Int { state.withLock { $0.idleExits } }

    /// How long the stages may go without work before they exit (nil: never). A new value (a
    /// reloaded config) is taken at the next idle check, at most the old value later.
    public var maxIdle: Duration? {
        get { state.withLock { $0.maxIdle } }
        set {
            state.withLock { state in
                state.maxIdle = newValue
                if state.running != nil { watchIdle(&state) }
            }
        }
    }

    /// Lookups in the pipeline now (at most `maxInFlight`).
    public var inFlight: Int { state.withLock { $0.pending.count } }

    /// The process ids of the running stages (for tests and diagnostics).
    public var stagePIDs: [pid_t] { state.withLock { $0.running?.pipeline.children.map(\.pid) ?? [] } }

    /// Sends one record through the pipeline and waits for it to come out, at most `timeout`.
    public func run(_ record: JSONObject, timeout: Duration) async -> Result<JSONObject, STSError> {
        // Right after a stage died the pipeline may not be startable yet: wait for it rather than fail.
        if let pause = state.withLock({ state -> Duration? in
            guard state.running == nil, !state.shutDown, let last = state.lastStart else { return nil }
            let left = restartDelay - (ContinuousClock.now - last)
            return left > .zero ? left : nil
        }) {
            try? await Task.sleep(for: pause)
        }
        return await withCheckedContinuation { continuation in
            let started: (fd: Int32, id: String, generation: Int)?
            do {
                started = try state.withLock { state throws(STSError) -> (fd: Int32, id: String, generation: Int)? in
                    guard state.pending.count < maxInFlight else {
                        throw STSError(.overloaded, "the stage pipeline is busy: \(maxInFlight) lookups are in it already")
                    }
                    let running = try ensureRunning(&state)
                    state.nextID += 1
                    let id = "q\(state.nextID)"
                    state.lastActivity = ContinuousClock.now
                    state.pending[id] = Waiting(generation: running.generation, continuation: continuation,
                                                deadline: ContinuousClock.now + timeout, timeout: timeout)
                    if !state.sweeping {
                        state.sweeping = true
                        Task { await self.sweep() }
                    }
                    return (running.pipeline.inputFD, id, running.generation)
                }
            } catch {
                continuation.resume(returning: .failure(error as? STSError ?? STSError(.internalError, "\(error)")))
                return
            }
            guard let (fd, id, generation) = started else { return }
            var tagged = record
            tagged["id"] = .string(id)
            var line = JSONWriter.bytes(.object(tagged))
            line.append(0x0A)
            switch writeLock.withLock({ _ in FileDescriptorWriter.writeWhole(fd, line) }) {
            case .written:
                break
            case .full:
                // The first stage is not reading: this lookup gives up, the pipeline goes on.
                fail(id, STSError(.overloaded, "the stage pipeline is busy: its input is full"))
            case .failed:
                fail(id, STSError(.internalError, "the stage pipeline is not accepting records"))
                stop(generation: generation)
            }
        }
    }

    /// Fails the lookups that waited past their deadline, a few times a second. One task for all of
    /// them: a sleeping task per lookup would hold its memory for the whole timeout.
    private func sweep() async {
        while true {
            try? await Task.sleep(for: .milliseconds(100))
            let now = ContinuousClock.now
            let (expired, done) = state.withLock { state -> ([Waiting], Bool) in
                let ids = state.pending.filter { $0.value.deadline <= now }.map(\.key)
                let expired = ids.compactMap { state.pending.removeValue(forKey: $0) }
                if state.shutDown && state.pending.isEmpty { state.sweeping = false }
                return (expired, !state.sweeping)
            }
            for waiting in expired {
                waiting.continuation.resume(returning: .failure(STSError(.internalError, "the stage pipeline did not answer within \(waiting.timeout)")))
            }
            if done { return }
        }
    }

    private func fail(_ id: String, _ error: STSError) {
        let waiting = state.withLock { $0.pending.removeValue(forKey: id) }
        waiting?.continuation.resume(returning: .failure(error))
    }

    /// Called with the lock held.
    private func ensureRunning(_ state: inout State) throws(STSError) -> Running {
        if let running = state.running { return running }
        if state.shutDown { throw STSError(.internalError, "the stage pipeline is shut down") }
        if let last = state.lastStart, ContinuousClock.now - last < restartDelay {
            throw STSError(.internalError, "the stage pipeline is restarting")
        }
        state.lastStart = ContinuousClock.now
        let pipeline = try StagePipeline(commands)
        // Writes must never wait for a stage (see the type's comment): a full input is refused at once.
        _ = fcntl(pipeline.inputFD, F_SETFL, fcntl(pipeline.inputFD, F_GETFL) | O_NONBLOCK)
        state.generation += 1
        if state.generation > 1 && !state.endedIdle {
            state.restarts += 1
            DaemonMetrics.stageRestart()
        }
        state.endedIdle = false
        state.lastActivity = ContinuousClock.now
        let running = Running(pipeline: pipeline, generation: state.generation)
        state.running = running
        watchIdle(&state)
        DetachedThread.start(name: "sts-stage-read") { [self] in self.read(running) }
        // A dead stage must end its generation at once: the end of file it leaves behind only reaches
        // the reader once the stages after it have finished their own work, which can take a fetch's
        // whole timeout.
        for child in pipeline.children {
            DetachedThread.start(name: "sts-stage-wait") { [self] in
                var info = siginfo_t()
                while waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
                self.stop(generation: running.generation)
            }
        }
        return running
    }

    /// Reads results until the last stage's output ends, then tears that generation down.
    private func read(_ running: Running) {
        var reader = LineReader(fd: running.pipeline.outputFD, maxLineBytes: 64 << 20)
        while let line = reader.next() {
            guard case .bytes(let bytes) = line, case .object(var record)? = try? JSONParser.parse(bytes),
                let id = record["id"]?.stringValue
            else { continue }
            record["id"] = nil
            let waiting = state.withLock { state in
                state.lastActivity = ContinuousClock.now
                return state.pending.removeValue(forKey: id)
            }
            waiting?.continuation.resume(returning: .success(record))
        }
        stop(generation: running.generation)
        close(running.pipeline.outputFD)
        running.pipeline.children.forEach { $0.wait() }
        running.reaped.signal()
    }

    /// Ends a generation: kills its stages and fails what was waiting on it.
    private func stop(generation: Int) {
        let (stopped, orphans) = state.withLock { state -> (Running?, [CheckedContinuation<Result<JSONObject, STSError>, Never>]) in
            guard let running = state.running, running.generation == generation else { return (nil, []) }
            state.running = nil
            if let last = state.lastStart, ContinuousClock.now - last < .seconds(1) {
                state.quickDeaths += 1
            } else {
                state.quickDeaths = 0
            }
            let orphaned = state.pending.filter { $0.value.generation == generation }
            for key in orphaned.keys { state.pending.removeValue(forKey: key) }
            return (running, orphaned.values.map(\.continuation))
        }
        if let stopped {
            for child in stopped.pipeline.children { kill(child.pid, SIGKILL) }
            // Under the write lock: a lookup writing right now must not see the number reused.
            writeLock.withLock { _ in _ = close(stopped.pipeline.inputFD) }
            restartLater()
        }
        for continuation in orphans {
            continuation.resume(returning: .failure(STSError(.internalError, "a stage exited while the lookup was in flight")))
        }
    }

    /// Starts a new pipeline after `restartDelay` unless a lookup has started one already (or we are
    /// shutting down), so the stages are back before the next lookup needs them.
    private func restartLater() {
        let quickDeaths = state.withLock { $0.quickDeaths }
        let delay = min(restartDelay * (1 << min(max(quickDeaths - 1, 0), 16)), max(restartDelay, .seconds(10)))
        Task { [self] in
            try? await Task.sleep(for: delay)
            state.withLock { state in
                guard state.running == nil, !state.shutDown else { return }
                _ = try? ensureRunning(&state)
            }
        }
    }

    /// Starts the task that lets an idle pipeline go, unless it runs or stages never go idle. Called
    /// with the lock held.
    private func watchIdle(_ state: inout State) {
        guard state.maxIdle != nil, !state.watchingIdle else { return }
        state.watchingIdle = true
        Task { await self.retireWhenIdle() }
    }

    /// Waits until the pipeline has had nothing to do for `maxIdle`, then closes its input: the stages
    /// have nothing in flight, so they see the end of their input and exit 0. Ends with the pipeline.
    private func retireWhenIdle() async {
        while true {
            let (pause, retired) = state.withLock { state -> (Duration?, Running?) in
                guard let limit = state.maxIdle, let running = state.running, !state.shutDown else {
                    state.watchingIdle = false
                    return (nil, nil)
                }
                let quiet = ContinuousClock.now - state.lastActivity
                guard state.pending.isEmpty, quiet >= limit else {
                    return (state.pending.isEmpty ? limit - quiet : limit, nil)
                }
                // From here on a lookup starts a new pipeline; this one gets no more records.
                state.running = nil
                state.endedIdle = true
                state.idleExits += 1
                state.watchingIdle = false
                return (nil, running)
            }
            if let retired {
                DaemonMetrics.stageIdleExit()
                logger?.info("stages idle for stage_max_idle: they exit now and start again with the next lookup that needs them")
                writeLock.withLock { _ in _ = close(retired.pipeline.inputFD) }
                afterIdleExit?()
                return
            }
            guard let pause else { return }
            try? await Task.sleep(for: max(pause, .milliseconds(10)))
        }
    }

    /// Ends the pipeline: stages finish what is in flight and exit.
    public func shutdown() {
        _ = closeForGood()
    }

    /// `shutdown()`, then waits up to `limit` for the stages to finish what they hold and exit, kills
    /// those still running, and reaps them all: a daemon that exits first leaves its stages to init,
    /// and not every init reaps (a container's first process may not).
    public func shutdown(reapingWithin limit: Duration) async {
        guard let running = closeForGood() else { return }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                if running.reaped.wait(timeout: .now() + limit.seconds) == .timedOut {
                    for child in running.pipeline.children { kill(child.pid, SIGKILL) }
                    _ = running.reaped.wait(timeout: .now() + 2)
                }
                done.resume()
            }
        }
    }

    /// Marks the client shut down and closes the stages' input; the generation that was running.
    private func closeForGood() -> Running? {
        let running = state.withLock { state -> Running? in
            state.shutDown = true
            defer { state.running = nil }
            return state.running
        }
        if let running { writeLock.withLock { _ in _ = close(running.pipeline.inputFD) } }
        return running
    }
}
