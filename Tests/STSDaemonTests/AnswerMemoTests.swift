import Foundation
import Logging
import STSCache
import STSConfig
import STSCore
import STSDaemon
import XCTest

final class AnswerMemoTests: XCTestCase {
    func entry(_ domain: String, id: String, mx: String, mode: PolicyMode = .enforce, at now: Int64 = 1000) -> CacheEntry {
        let policy = Policy(mode: mode, maxAge: 86400, mx: [MXPattern(mx)!], lines: ["version: STSv1", "mx: \(mx)"])
        return CacheEntry(domain: domain, policyID: id, policy: policy, fetchedAt: now, confirmedAt: now, expiresAt: now + 86400)
    }

    func testAnAnswerIsRenderedOnceForTheSameEntryAndOptions() {
        let memo = AnswerMemo(capacity: 10)
        var renders = 0
        let cached = entry("example.com", id: "a1", mx: "mx.example.com")
        for _ in 0..<3 {
            _ = memo.answer(for: cached, options: ZoneOptions()) { renders += 1; return .init(reply: .notFound, reason: "x") }
        }
        XCTAssertEqual(renders, 1)
    }

    func testAnotherEntryOrOtherOptionsAreRenderedAnew() {
        let memo = AnswerMemo(capacity: 10)
        var renders = 0
        let render = { () -> AnswerMemo.Answer in renders += 1; return .init(reply: .ok("\(renders)"), reason: "") }
        let first = entry("example.com", id: "a1", mx: "mx.example.com")
        XCTAssertEqual(memo.answer(for: first, options: ZoneOptions(), render: render).reply, .ok("1"))
        XCTAssertEqual(memo.answer(for: entry("example.com", id: "a1", mx: "mx2.example.com"), options: ZoneOptions(), render: render).reply, .ok("2"),
                       "same id, other policy body")
        XCTAssertEqual(memo.answer(for: entry("example.com", id: "a2", mx: "mx2.example.com"), options: ZoneOptions(), render: render).reply, .ok("3"))
        XCTAssertEqual(memo.answer(for: entry("example.com", id: "a2", mx: "mx2.example.com"), options: ZoneOptions(tlsrpt: true), render: render).reply,
                       .ok("4"), "a zone with other options")
        var failed = entry("example.com", id: "a2", mx: "mx2.example.com")
        failed.failedAt = 1100
        failed.failedID = "a3"
        XCTAssertEqual(memo.answer(for: failed, options: ZoneOptions(tlsrpt: true), render: render).reply, .ok("5"))
    }

    func testTheMemoStaysWithinItsCapacity() {
        let memo = AnswerMemo(capacity: 4)
        for index in 0..<50 {
            _ = memo.answer(for: entry("d\(index).example", id: "a1", mx: "mx.example.com"), options: ZoneOptions()) { .init(reply: .notFound, reason: "") }
            XCTAssertLessThanOrEqual(memo.count, 4)
        }
    }

    /// Through the service: a policy replaced in the cache is what the next lookup from memory answers.
    func testTheServiceAnswersAReplacedPolicyAtOnce() async throws {
        let hot = MemoryCache(capacity: 100)
        let stages = StageClient(commands: [.init("false")], restartDelay: .milliseconds(10))
        addTeardownBlock { stages.shutdown() }
        let service = PolicyService(rules: CacheRules(grace: 3600), hot: hot, durable: nil, stages: stages, logger: Logger(label: "test"))
        let now = Int64(Date().timeIntervalSince1970)
        try await hot.put(entry("example.com", id: "a1", mx: "mx1.example.com", at: now))
        XCTAssertEqual(service.decideFromMemory(domain: "example.com", zone: ZoneConfig())?.reply, .ok("secure match=mx1.example.com servername=hostname"))
        try await hot.put(entry("example.com", id: "a2", mx: "mx2.example.com", at: now))
        XCTAssertEqual(service.decideFromMemory(domain: "example.com", zone: ZoneConfig())?.reply, .ok("secure match=mx2.example.com servername=hostname"))
        var noSNI = ZoneConfig()
        noSNI.requireSNI = false
        XCTAssertEqual(service.decideFromMemory(domain: "example.com", zone: noSNI)?.reply, .ok("secure match=mx2.example.com"))
        try await hot.put(entry("example.com", id: "a3", mx: "mx2.example.com", mode: .none, at: now))
        XCTAssertEqual(service.decideFromMemory(domain: "example.com", zone: ZoneConfig())?.reply, .notFound, "mode none replaces the policy at once")
    }
}
