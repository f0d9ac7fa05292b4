import Logging
import STSCache
import STSConfig
import STSCore
import Synchronization

/// Answers "what TLS policy for this domain?" for the socketmap server: from memory when the cached
/// answer is fresh (no stage involved), else through the stage pipeline, within the zone's time budget.
///
/// - Single flight: one refresh per domain at a time; concurrent lookups wait on the same one.
/// - Time budget: a lookup waits at most the zone's `timeout`; then it is answered from the cache (or
///   NOTFOUND) and the refresh goes on in the background to fill the cache for the next lookup.
/// - Failures never defer mail by themselves: a DNS failure or a failed fetch serves the unexpired
///   cached policy, or NOTFOUND.
/// - A fault of our own (a stage that died with the lookup in flight, twice: the lookup is tried once
///   more on the new pipeline) serves the unexpired cached entry, else TEMP: whether the domain has a
///   policy is unknown, and NOTFOUND could downgrade a domain that has one.
/// - A slow durable store holds no answer past the budget: its read is bounded by it (TEMP: the entry
///   is unknown), at most `maxDurableOperations` reads wait at once, and a refreshed entry is answered
///   from memory while its write goes on (past that many waiting writes, it is kept in memory only).
/// - DANE precedence (RFC 8461 §2), when `dane` is given and the zone asks for it: the stages also
///   report DANE, and usable TLSA records answer `dane-only`/`dane` instead of the MTA-STS policy;
///   a DANE status that cannot be determined answers TEMP (see `DANEPrecedence`).
public final class PolicyService: Sendable {
    public let rules: CacheRules
    /// How long a refresh may take in the background (RFC 8461 §3.3 suggests a minute).
    public let backgroundLimit: Duration
    private let hot: MemoryCache
    private let answers: AnswerMemo
    private let durable: CacheBackend?
    private let stages: StageClient
    private let logger: Logger
    private let inFlight = Mutex<[String: Task<Refreshed, Never>]>([:])
    private let reads = Mutex<[String: Task<CacheEntry?, Never>]>([:])
    private let pendingWrites = Mutex(0)
    /// How many durable reads, and separately how many writes, may wait at once (see `startRead` and
    /// `reserveWrite`).
    public let maxDurableOperations: Int
    private let clock: @Sendable () -> Int64
    /// Where DANE statuses are kept; nil when the stages do not look DANE up (no trust anchor).
    public let dane: DANECache?

    public init(rules: CacheRules, hot: MemoryCache, durable: CacheBackend?, stages: StageClient, logger: Logger, dane: DANECache? = nil,
                backgroundLimit: Duration = .seconds(60), maxDurableOperations: Int = 1000, clock: @escaping @Sendable () -> Int64 = UnixTime.now)
    {
        self.maxDurableOperations = max(1, maxDurableOperations)
        self.dane = dane
        self.rules = rules
        self.hot = hot
        // The hot set of a mail server is small (a few large providers take most mail); a wider working
        // set is rendered on each lookup, as without the memo, at no memory cost per cached policy.
        self.answers = AnswerMemo(capacity: min(hot.capacity, 1024))
        self.durable = durable
        self.stages = stages
        self.logger = logger
        self.backgroundLimit = backgroundLimit
        self.clock = clock
    }

    /// The outcome of one lookup, for the reply and the log line.
    public struct Decision: Sendable {
        public var reply: SocketmapReply
        /// Why, in a few words.
        public var reason: String
        /// "cache" (no stage involved), "refreshed", or "budget" (answered before the refresh ended).
        public var source: String
    }

    /// The decision when it can be made from memory alone (a fresh entry, and a known DANE status where
    /// one is needed), without suspending; nil otherwise. The hot path: most lookups end here.
    public func decideFromMemory(domain: String, zone: ZoneConfig) -> Decision? {
        let now = clock()
        guard let entry = hot.entry(for: domain), rules.freshness(of: entry, at: now) == .fresh else { return nil }
        let daneCache = zone.dane ? dane : nil
        let knownDANE = daneCache?.status(of: domain, at: now)
        if daneCache != nil && knownDANE == nil { return nil }
        DaemonMetrics.cache(hit: true)
        return withDANE(knownDANE, decision(entry, domain: domain, zone: zone, source: "cache"))
    }

    public func decide(domain: String, zone: ZoneConfig) async -> Decision {
        if let decision = decideFromMemory(domain: domain, zone: zone) { return decision }
        let started = ContinuousClock.now
        let budget = Duration.milliseconds(Int64(zone.timeout * 1000))
        // Reading the durable cache counts against the zone's budget too: a cache that does not answer
        // (a stuck disk, a redis or PostgreSQL server that hangs) must not hold the answer past it. Its
        // entry is unknown then, so the answer is TEMP, as for any fault of ours; the read goes on and
        // leaves the entry in memory for the next lookup.
        let entry: CacheEntry?
        if let inMemory = hot.entry(for: domain) {
            entry = inMemory
        } else if durable == nil {
            entry = nil
        } else if let read = startRead(domain) {
            guard let stored = await Self.withinBudget(budget, { await read.value }) else {
                DaemonMetrics.cache(hit: false)
                return Decision(reply: .temp("sts: the cache did not answer within the zone timeout"),
                                reason: "internal fault: the cache did not answer within the zone timeout", source: "budget")
            }
            entry = stored
        } else {
            DaemonMetrics.cache(hit: false)
            return Decision(reply: .temp("sts: the cache is busy"),
                            reason: "internal fault: \(maxDurableOperations) cache reads are waiting already", source: "budget")
        }
        let now = clock()
        let daneCache = zone.dane ? dane : nil
        let knownDANE = daneCache?.status(of: domain, at: now)
        if rules.freshness(of: entry, at: now) == .fresh, let entry, daneCache == nil || knownDANE != nil {
            DaemonMetrics.cache(hit: true)
            return withDANE(knownDANE, decision(entry, domain: domain, zone: zone, source: "cache"))
        }
        DaemonMetrics.cache(hit: false)
        let refresh = startRefresh(domain: domain, current: entry)
        let result = await Self.withinBudget(max(.zero, budget - (ContinuousClock.now - started))) { await refresh.value }
        switch result {
        case .some(let refreshed):
            let daneStatus: DANEStatus? = daneCache.map { cache in
                cache.status(of: domain, at: clock()) ?? .undeterminable(STSError(.dnsError, "the DANE lookup gave no answer"))
            }
            let usable = refreshed.entry ?? entry.flatMap { $0.isExpired(at: clock()) ? nil : $0 }
            guard let usable else {
                if let fault = refreshed.fault {
                    return Decision(reply: .temp("sts: \(fault.message)"), reason: "internal fault: \(fault.message)", source: "refreshed")
                }
                return withDANE(daneStatus, Decision(reply: .notFound, reason: "no policy known", source: "refreshed"))
            }
            return withDANE(daneStatus, decision(usable, domain: domain, zone: zone, source: "refreshed"))
        case .none:
            let daneStatus: DANEStatus? = daneCache.map { _ in
                knownDANE ?? .undeterminable(STSError(.dnsTimeout, "the DANE lookup exceeded the zone timeout"))
            }
            if let entry, !entry.isExpired(at: clock()) {
                return withDANE(daneStatus, decision(entry, domain: domain, zone: zone, source: "budget"))
            }
            return withDANE(daneStatus, Decision(reply: .notFound, reason: "discovery exceeded the zone timeout; continuing in the background", source: "budget"))
        }
    }

    /// The MTA-STS decision, or what DANE puts in its place.
    private func withDANE(_ status: DANEStatus?, _ sts: Decision) -> Decision {
        guard let status, let override = DANEPrecedence.override(for: status) else { return sts }
        let reason: String
        switch override {
        case .daneOnly: reason = "DANE: every MX host has usable TLSA records (MTA-STS not applied)"
        case .dane: reason = "DANE: some MX hosts have usable TLSA records (MTA-STS not applied)"
        case .temporaryFailure(let why): reason = why
        }
        return Decision(reply: override.reply, reason: reason, source: sts.source)
    }

    private func decision(_ entry: CacheEntry, domain: String, zone: ZoneConfig, source: String) -> Decision {
        let options = zone.answerOptions
        let answer = answers.answer(for: entry, options: options) { Self.render(entry, domain: domain, options: options) }
        return Decision(reply: answer.reply, reason: answer.reason, source: source)
    }

    private static func render(_ entry: CacheEntry, domain: String, options: ZoneOptions) -> AnswerMemo.Answer {
        guard let policy = entry.policy else {
            return .init(reply: .notFound, reason: entry.failedID == nil ? "no MTA-STS policy" : "policy fetch failed")
        }
        switch TLSPolicyAnswer.render(policy, domain: domain, options: options) {
        case .policy(let value):
            return .init(reply: .ok(value), reason: "policy \(entry.policyID ?? "") in \(policy.mode.rawValue) mode")
        case .noPolicy(let why):
            return .init(reply: .notFound, reason: why)
        case .tooLarge(let size):
            return .init(reply: .notFound, reason: "the policy's answer (\(size) bytes) exceeds Postfix's limit")
        }
    }

    /// The durable read for `domain`: the one in flight, or a new one; nil when `maxDurableOperations` are
    /// in flight already. A store that stopped answering (a stuck disk, a hung server) so holds at most
    /// that many reads, whatever the number of lookups, and one per domain.
    private func startRead(_ domain: String) -> Task<CacheEntry?, Never>? {
        reads.withLock { running in
            if let task = running[domain] { return task }
            guard running.count < maxDurableOperations else { return nil }
            let task = Task { [self] () -> CacheEntry? in
                defer { _ = reads.withLock { $0.removeValue(forKey: domain) } }
                return await stored(domain)
            }
            running[domain] = task
            return task
        }
    }

    /// The entry in the durable store (then kept in memory), for a domain not in memory.
    private func stored(_ domain: String) async -> CacheEntry? {
        guard let durable else { return nil }
        do {
            guard let entry = try await durable.get(domain) else { return nil }
            try? await hot.put(entry)
            return entry
        } catch {
            logger.warning("cache read failed", metadata: ["domain": "\(domain)", "error": "\(error.message)"])
            return nil
        }
    }

    /// What a refresh learnt: the entry to serve (nil: none), whether our own machinery failed (then
    /// nothing was learnt about the domain), and the entry the durable store is still to be given.
    struct Refreshed: Sendable {
        var entry: CacheEntry?
        var fault: STSError?
        var unstored: CacheEntry?
    }

    /// The refresh for `domain`: the one in flight, or a new one.
    ///
    /// Its value comes as soon as the entry is in memory; the durable write follows, and the refresh
    /// holds the domain's slot until that write ends, so that writes for one domain land in order and
    /// a slow store (a locked file, a hung server) holds neither an answer nor more than one write.
    private func startRefresh(domain: String, current: CacheEntry?, forceFetch: Bool = false) -> Task<Refreshed, Never> {
        inFlight.withLock { running in
            if let task = running[domain] { return task }
            let task = Task { [self] () -> Refreshed in
                let refreshed = await refresh(domain: domain, current: current, forceFetch: forceFetch)
                guard let unstored = refreshed.unstored, let durable, reserveWrite(of: domain) else {
                    _ = inFlight.withLock { $0.removeValue(forKey: domain) }
                    return refreshed
                }
                Task {
                    defer {
                        pendingWrites.withLock { $0 -= 1 }
                        _ = inFlight.withLock { $0.removeValue(forKey: domain) }
                    }
                    await store(unstored, in: durable)
                }
                return refreshed
            }
            running[domain] = task
            return task
        }
    }

    /// A place for one more durable write, unless `maxDurableOperations` wait already: then the entry
    /// stays in memory only (the durable store is a cache too; a restart fetches it again), so that a
    /// store that stopped answering does not hold an entry for every domain refreshed meanwhile.
    private func reserveWrite(of domain: String) -> Bool {
        let reserved = pendingWrites.withLock { pending in
            guard pending < maxDurableOperations else { return false }
            pending += 1
            return true
        }
        if !reserved {
            DaemonMetrics.cacheWriteSkipped()
            logger.debug("cache write skipped", metadata: ["domain": "\(domain)", "waiting": "\(maxDurableOperations)"])
        }
        return reserved
    }

    private func store(_ entry: CacheEntry, in durable: CacheBackend) async {
        do { try await durable.put(entry) } catch {
            logger.warning("cache write failed", metadata: ["domain": "\(entry.domain)", "error": "\(error.message)"])
        }
    }

    /// Runs discovery (and the fetch when needed) and puts what it learnt in memory; the entry to serve,
    /// and the one to write to the durable store (`startRefresh` writes it).
    func refresh(domain: String, current: CacheEntry?, forceFetch: Bool = false) async -> Refreshed {
        let now = clock()
        let live = current.flatMap { $0.isExpired(at: now) ? nil : $0 }
        var record: JSONObject = ["domain": .string(domain)]
        var cache = JSONObject()
        if let live, !live.isNegative, let id = live.policyID {
            cache["policy_id"] = .string(id)
            cache["fresh"] = .bool(!forceFetch && now - live.fetchedAt < rules.refetchInterval)
        }
        if let live, let failedID = live.failedID, let failedAt = live.failedAt, now - failedAt < rules.failureBackoff {
            cache["backoff_id"] = .string(failedID)
        }
        if !cache.isEmpty { record["cache"] = .object(cache) }

        let started = ContinuousClock.now
        var outcome = await stages.run(record, timeout: backgroundLimit)
        if case .failure(let error) = outcome, error.kind != .overloaded, ContinuousClock.now - started < backgroundLimit / 2 {
            // A stage died under this lookup (killed, or crashed on another record): once more, on the
            // pipeline started in its place, so that a crash costs time rather than a deferred mail.
            logger.notice("lookup tried again", metadata: ["domain": "\(domain)", "error": "\(error.message)"])
            outcome = await stages.run(record, timeout: backgroundLimit)
        }
        Self.record(outcome, since: started)
        switch outcome {
        case .failure(let error):
            if error.kind == .overloaded {
                // A flood: each refused lookup has its decision line; a warning each would only add to it.
                DaemonMetrics.lookupRefused()
                logger.debug("lookup refused", metadata: ["domain": "\(domain)", "error": "\(error.message)"])
            } else {
                logger.warning("lookup failed", metadata: ["domain": "\(domain)", "error": "\(error.message)"])
            }
            return Refreshed(entry: live, fault: error)
        case .success(let result):
            if let dane, let value = result["dane"] {
                let status = DANEStatus(json: value) ?? .undeterminable(STSError(.internalError, "unreadable DANE status from sts-dns"))
                DaemonMetrics.dane(status)
                dane.store(status, for: domain, at: clock())
            }
            let discovery = CacheRules.Discovery(record: result)
            guard let next = rules.next(current, domain: domain, discovery: discovery, at: clock()) else { return Refreshed(entry: live) }
            try? await hot.put(next)
            return Refreshed(entry: next, unstored: durable == nil ? nil : next)
        }
    }

    /// Proactive refresh (`proactive_policy_fetching`), with the old daemon's rule: a run a second after
    /// start and then every `interval` refreshes each cached policy last confirmed `interval / graceRatio`
    /// or more ago (with the defaults, a day and 2: policies older than 12 hours), at most `concurrency`
    /// at a time, so that lookups keep finding fresh policies. The first run comes early because
    /// which policies are due is kept in the entries themselves: a restart refreshes only what is due.
    /// Runs until the task is cancelled.
    public func refreshProactively(interval: Duration, graceRatio: Double, concurrency: Int) async {
        let minimumAge = interval.seconds / graceRatio
        var pause = min(interval, .seconds(1))
        while !Task.isCancelled {
            try? await Task.sleep(for: pause)
            pause = interval
            if Task.isCancelled { return }
            let now = clock()
            var due: [CacheEntry] = []
            var cursor: String?
            let store: CacheBackend = durable ?? hot
            while let page = try? await store.list(after: cursor, limit: 500), let last = page.last {
                due += page.filter { !$0.isNegative && Double(now - $0.confirmedAt) >= minimumAge }
                cursor = last.domain
            }
            logger.info("proactive refresh", metadata: ["due": "\(due.count)"])
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for entry in due {
                    if running >= concurrency {
                        await group.next()
                        running -= 1
                    }
                    group.addTask { _ = await self.startRefresh(domain: entry.domain, current: entry, forceFetch: true).value }
                    running += 1
                }
            }
        }
    }

    /// Metrics from a pipeline result: the DNS outcome, and the fetch's when there was one.
    private static func record(_ outcome: Result<JSONObject, STSError>, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        guard case .success(let record) = outcome else {
            DaemonMetrics.discovery(outcome: ErrorKind.internalError.rawValue, seconds: elapsed.seconds)
            return
        }
        let txt = record["txt"]
        let status = txt?["status"]?.stringValue ?? "error"
        DaemonMetrics.discovery(outcome: status == "error" ? (txt?["error"]?["kind"]?.stringValue ?? "error") : status, seconds: elapsed.seconds)
        if let fetch = record["fetch"] {
            let kind = fetch["status"]?.stringValue == "ok" ? "ok" : (fetch["error"]?["kind"]?.stringValue ?? "error")
            DaemonMetrics.fetch(kind: kind, milliseconds: fetch["timings_ms"]?["total"]?.doubleValue)
        }
    }

    /// The value of `work` if it finishes within `budget`, else nil (the work goes on).
    ///
    /// Not a task group: a group waits for all its children before it returns, and `work` (awaiting a
    /// refresh that others may share) does not end when cancelled, so the budget would not bound anything.
    static func withinBudget<T: Sendable>(_ budget: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
        await FirstAnswer<T?>.wait { first in
            let timer = Task {
                // Cancelled: the work has answered (a cancelled sleep returns early, so do nothing).
                guard (try? await Task.sleep(for: budget)) != nil else { return }
                first.resume(returning: nil)
            }
            Task {
                let value = await work()
                first.resume(returning: value)
                timer.cancel()
            }
        }
    }
}
