import Foundation
import Logging
import STSCache
import STSConfig
import STSCore
import STSDaemon
import STSStage
import Synchronization
import XCTest

/// The request path when our own pipeline fails or hangs.
final class PolicyServiceTests: XCTestCase {
    /// A service over a pipeline that dies as soon as it starts (`false` exits without reading).
    func dyingService(grace: Int64 = 60) -> (PolicyService, MemoryCache) {
        let hot = MemoryCache(capacity: 100)
        let stages = StageClient(commands: [.init("false")], restartDelay: .milliseconds(10))
        addTeardownBlock { stages.shutdown() }
        return (PolicyService(rules: CacheRules(grace: grace), hot: hot, durable: nil, stages: stages, logger: Logger(label: "test")), hot)
    }

    func testADeadPipelineAnswersTempNotNotFound() async {
        let (service, _) = dyingService()
        var zone = ZoneConfig()
        zone.timeout = 10
        let started = ContinuousClock.now
        let decision = await service.decide(domain: "example.com", zone: zone)
        guard case .temp(let reason) = decision.reply else {
            return XCTFail("we do not know whether example.com has a policy: \(decision.reply)")
        }
        XCTAssertTrue(reason.hasPrefix("sts: "), reason)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "answered when the pipeline failed, not at the budget")
    }

    func testADeadPipelineServesTheCachedPolicy() async throws {
        let (service, hot) = dyingService(grace: 0)
        let now = Int64(Date().timeIntervalSince1970)
        let policy = Policy(mode: .enforce, maxAge: 86400, mx: [MXPattern("mail.example.com")!], lines: [])
        try await hot.put(CacheEntry(domain: "example.com", policyID: "a1", policy: policy, fetchedAt: now - 10, confirmedAt: now - 10, expiresAt: now + 86400))
        let decision = await service.decide(domain: "example.com", zone: ZoneConfig())
        XCTAssertEqual(decision.reply, .ok("secure match=mail.example.com servername=hostname"))
    }

    func testTheBudgetBoundsALookupThePipelineNeverAnswers() async {
        // `sleep` reads nothing and writes nothing: the record stays in flight.
        let stages = StageClient(commands: [.init("sleep", ["30"])])
        defer {
            stages.stagePIDs.forEach { kill($0, SIGKILL) }
            stages.shutdown()
        }
        let service = PolicyService(rules: CacheRules(), hot: MemoryCache(capacity: 10), durable: nil, stages: stages, logger: Logger(label: "test"))
        var zone = ZoneConfig()
        zone.timeout = 0.3
        let started = ContinuousClock.now
        let decision = await service.decide(domain: "example.com", zone: zone)
        XCTAssertEqual(decision.reply, .notFound)
        XCTAssertEqual(decision.source, "budget")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
    }

    func testAFullPipelineAnswersTempAtOnceAndStillServesCachedPolicies() async throws {
        // One lookup at a time, taken by `sleep`, which never reads it: every other one is refused.
        let stages = StageClient(commands: [.init("sleep", ["30"])], maxInFlight: 1)
        defer {
            stages.stagePIDs.forEach { kill($0, SIGKILL) }
            stages.shutdown()
        }
        let hot = MemoryCache(capacity: 10)
        let service = PolicyService(rules: CacheRules(grace: 0), hot: hot, durable: nil, stages: stages, logger: Logger(label: "test"))
        var zone = ZoneConfig()
        zone.timeout = 10
        let occupying = Task { await service.decide(domain: "a.example", zone: zone) }
        let filling = ContinuousClock.now
        while stages.inFlight < 1 && ContinuousClock.now - filling < .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(stages.inFlight, 1)

        var started = ContinuousClock.now
        let refused = await service.decide(domain: "b.example", zone: zone)
        guard case .temp(let reason) = refused.reply else { return XCTFail("no answer is known for b.example: \(refused.reply)") }
        XCTAssertTrue(reason.contains("busy"), reason)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1), "refused at once, not after the budget or a retry")

        // A domain with a cached policy due for a re-check keeps its policy while the stages are full.
        let now = Int64(Date().timeIntervalSince1970)
        let policy = Policy(mode: .enforce, maxAge: 86400, mx: [MXPattern("mail.c.example")!], lines: [])
        try await hot.put(CacheEntry(domain: "c.example", policyID: "c1", policy: policy, fetchedAt: now - 100, confirmedAt: now - 100, expiresAt: now + 86400))
        started = ContinuousClock.now
        let cached = await service.decide(domain: "c.example", zone: zone)
        XCTAssertEqual(cached.reply, .ok("secure match=mail.c.example servername=hostname"))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1))
        occupying.cancel()
    }

    /// A stage that answers every record at once: example domains publish an enforce policy.
    static let answeringStage = StagePipeline.Command("python3", ["-c", """
        import json, sys
        for line in sys.stdin:
            record = json.loads(line)
            record["txt"] = {"status": "found", "id": "a1"}
            record["fetch"] = {"status": "ok"}
            record["policy"] = {"status": "valid", "version": "STSv1", "mode": "enforce", "max_age": 86400, "mx": ["mail.example.com"]}
            print(json.dumps(record), flush=True)
        """])

    /// A service over `answeringStage` whose durable store can be made to stop answering.
    func stuckStoreService(maxDurableOperations: Int = 1000) -> (PolicyService, StuckStore) {
        let store = StuckStore()
        let stages = StageClient(commands: [Self.answeringStage])
        addTeardownBlock { stages.shutdown() }
        let service = PolicyService(rules: CacheRules(), hot: MemoryCache(capacity: 10), durable: store, stages: stages, logger: Logger(label: "test"),
                                    maxDurableOperations: maxDurableOperations)
        return (service, store)
    }

    func testAFetchedPolicyIsAnsweredWhileTheDurableStoreHoldsItsWrite() async throws {
        let (service, store) = stuckStoreService()
        store.stuck(reads: false, writes: true)
        var zone = ZoneConfig()
        zone.timeout = 2
        let started = ContinuousClock.now
        let decision = await service.decide(domain: "example.com", zone: zone)
        XCTAssertEqual(decision.reply, .ok("secure match=mail.example.com servername=hostname"))
        XCTAssertEqual(decision.source, "refreshed")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1), "answered before the write, not at the budget")
        XCTAssertEqual(store.waitingWrites, 1)
        store.stuck(reads: false, writes: false)
        let writing = ContinuousClock.now
        while store.stored("example.com") == nil && ContinuousClock.now - writing < .seconds(10) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(store.stored("example.com")?.policyID, "a1", "the write lands once the store answers")
    }

    func testPastTheBoundOnWaitingWritesAnEntryIsKeptInMemoryOnly() async throws {
        let (service, store) = stuckStoreService(maxDurableOperations: 1)
        store.stuck(reads: false, writes: true)
        var zone = ZoneConfig()
        zone.timeout = 2
        let policy = SocketmapReply.ok("secure match=mail.example.com servername=hostname")
        let a = await service.decide(domain: "a.example.com", zone: zone)
        let b = await service.decide(domain: "b.example.com", zone: zone)
        XCTAssertEqual([a.reply, b.reply], [policy, policy])
        XCTAssertEqual(store.waitingWrites, 1, "b.example.com's write was skipped, not queued")
        let again = await service.decide(domain: "b.example.com", zone: zone)
        XCTAssertEqual(again.reply, policy)
        XCTAssertEqual(again.source, "cache", "served from memory")

        store.stuck(reads: false, writes: false)
        let writing = ContinuousClock.now
        while store.stored("a.example.com") == nil && ContinuousClock.now - writing < .seconds(10) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertNotNil(store.stored("a.example.com"))
        XCTAssertNil(store.stored("b.example.com"))
        // The place is free again: the next refreshed entry is written.
        _ = await service.decide(domain: "c.example.com", zone: zone)
        let next = ContinuousClock.now
        while store.stored("c.example.com") == nil && ContinuousClock.now - next < .seconds(10) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertNotNil(store.stored("c.example.com"))
    }

    func testProactiveRefreshRunsSoonAfterStartAndRefreshesPoliciesConfirmedLongEnoughAgo() async throws {
        // interval / grace_ratio = 10 s, as the old daemon: a policy confirmed 100 s ago is due, one
        // confirmed just now is not; the first run does not wait the hour-long interval.
        let hot = MemoryCache(capacity: 10)
        let stages = StageClient(commands: [Self.answeringStage])
        defer { stages.shutdown() }
        let service = PolicyService(rules: CacheRules(), hot: hot, durable: nil, stages: stages, logger: Logger(label: "test"))
        let now = Int64(Date().timeIntervalSince1970)
        func entry(_ domain: String, id: String, confirmed: Int64) -> CacheEntry {
            let policy = Policy(mode: .enforce, maxAge: 86400, mx: [MXPattern("mail.\(domain)")!], lines: [])
            return CacheEntry(domain: domain, policyID: id, policy: policy, fetchedAt: confirmed, confirmedAt: confirmed, expiresAt: now + 86400 * 300)
        }
        try await hot.put(entry("old.example", id: "old", confirmed: now - 100))
        try await hot.put(entry("recent.example", id: "recent", confirmed: now))
        let refreshing = Task { await service.refreshProactively(interval: .seconds(3600), graceRatio: 360, concurrency: 2) }
        defer { refreshing.cancel() }
        let started = ContinuousClock.now
        while hot.entry(for: "old.example")?.policyID != "a1" && ContinuousClock.now - started < .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(hot.entry(for: "old.example")?.policyID, "a1", "refreshed by the first run")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        XCTAssertEqual(hot.entry(for: "recent.example")?.policyID, "recent", "confirmed too recently to be due")
    }

    func testAStoreThatStopsAnsweringHoldsABoundedNumberOfReads() async throws {
        let (service, store) = stuckStoreService(maxDurableOperations: 2)
        store.stuck(reads: true, writes: false)
        var zone = ZoneConfig()
        zone.timeout = 0.2
        let short = zone
        async let a = service.decide(domain: "a.example.com", zone: short)
        async let b = service.decide(domain: "b.example.com", zone: short)
        async let a2 = service.decide(domain: "a.example.com", zone: short)
        let waiting = ContinuousClock.now
        while store.waitingReads < 2 && ContinuousClock.now - waiting < .seconds(5) { try await Task.sleep(for: .milliseconds(5)) }
        let started = ContinuousClock.now
        let refused = await service.decide(domain: "c.example.com", zone: zone)
        XCTAssertEqual(refused.reply, .temp("sts: the cache is busy"))
        XCTAssertLessThan(ContinuousClock.now - started, .milliseconds(150), "refused at once, not at the budget")
        for decision in await [a, b, a2] {
            XCTAssertEqual(decision.reply, .temp("sts: the cache did not answer within the zone timeout"))
        }
        XCTAssertEqual(store.waitingReads, 2, "one read per domain: the second lookup of a.example.com shared the first's")

        store.stuck(reads: false, writes: false)
        let draining = ContinuousClock.now
        while store.waitingReads > 0 && ContinuousClock.now - draining < .seconds(5) { try await Task.sleep(for: .milliseconds(5)) }
        zone.timeout = 5
        let served = await service.decide(domain: "c.example.com", zone: zone)
        XCTAssertEqual(served.reply, .ok("secure match=mail.example.com servername=hostname"), "the reads ended and freed their places")
    }
}

/// A durable store whose reads or writes wait until it is told to answer (a stuck disk, a hung server).
final class StuckStore: CacheBackend {
    private struct State {
        var readsStuck = false
        var writesStuck = false
        var waitingReads = 0
        var waitingWrites = 0
        var entries: [String: CacheEntry] = [:]
    }
    private let state = Mutex(State())

    func stuck(reads: Bool, writes: Bool) {
        state.withLock {
            $0.readsStuck = reads
            $0.writesStuck = writes
        }
    }
    var waitingReads: Int { state.withLock { $0.waitingReads } }
    var waitingWrites: Int { state.withLock { $0.waitingWrites } }
    func stored(_ domain: String) -> CacheEntry? { state.withLock { $0.entries[domain] } }

    private func wait(_ isStuck: @escaping @Sendable (State) -> Bool, counting count: WritableKeyPath<State, Int> & Sendable) async {
        guard state.withLock({ isStuck($0) }) else { return }
        state.withLock { $0[keyPath: count] += 1 }
        while state.withLock({ isStuck($0) }) { try? await Task.sleep(for: .milliseconds(5)) }
        state.withLock { $0[keyPath: count] -= 1 }
    }

    func get(_ domain: String) async throws(STSError) -> CacheEntry? {
        await wait({ $0.readsStuck }, counting: \.waitingReads)
        return stored(domain)
    }
    func put(_ entry: CacheEntry) async throws(STSError) {
        await wait({ $0.writesStuck }, counting: \.waitingWrites)
        state.withLock { $0.entries[entry.domain] = entry }
    }
    func delete(_ domain: String) async throws(STSError) { _ = state.withLock { $0.entries.removeValue(forKey: domain) } }
    func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] {
        state.withLock { Array($0.entries.values.filter { cursor == nil || $0.domain > cursor! }.sorted { $0.domain < $1.domain }.prefix(limit)) }
    }
    func purgeAll() async throws(STSError) { state.withLock { $0.entries.removeAll() } }
    func count() async throws(STSError) -> Int { state.withLock { $0.entries.count } }
}
