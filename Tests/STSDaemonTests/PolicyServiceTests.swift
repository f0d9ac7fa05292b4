import Foundation
import Logging
import STSCache
import STSConfig
import STSCore
import STSDaemon
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
}
