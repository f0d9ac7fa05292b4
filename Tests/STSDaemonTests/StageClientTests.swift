import Foundation
import STSCore
import STSDaemon
import STSStage
import Synchronization
import XCTest

/// The stage client over the real stage executables (built next to the test bundle).
final class StageClientTests: XCTestCase {
    /// A UDP socket on 127.0.0.1 that is never read, for a resolver that never answers; and its port.
    static func silentResolver() -> (Int32, UInt16) {
        let silent = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &length) } }
        return (silent, UInt16(bigEndian: address.sin_port))
    }

    func testRecordsGoThroughAndComeBackMatchedByID() async throws {
        let client = StageClient(commands: [.init("sts-parse"), .init("sts-parse")])
        defer { client.shutdown() }
        let body = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n"
        async let first = client.run(["domain": "a.example", "fetch": ["status": "ok", "body": .string(body)]], timeout: .seconds(10))
        async let second = client.run(["domain": "b.example"], timeout: .seconds(10))
        let (a, b) = await (first, second)
        let recordA = try a.get()
        XCTAssertEqual(recordA["domain"]?.stringValue, "a.example")
        XCTAssertEqual(recordA["policy"]?["mode"]?.stringValue, "enforce")
        XCTAssertNil(recordA["id"], "the correlation id is ours and is removed")
        XCTAssertEqual(try b.get()["domain"]?.stringValue, "b.example")
    }

    func testAKilledStageFailsTheLookupsInFlightAndIsStartedAgain() async throws {
        // A resolver that never answers keeps the lookup in flight inside sts-dns.
        let (silent, port) = Self.silentResolver()
        defer { close(silent) }

        let client = StageClient(commands: [.init("sts-dns", ["--resolver", "127.0.0.1@\(port)", "--timeout", "30"]), .init("sts-parse")],
                                 restartDelay: .milliseconds(10))
        defer { client.shutdown() }
        let started = ContinuousClock.now
        async let lookup = client.run(["domain": "example.com"], timeout: .seconds(60))
        try await Task.sleep(for: .milliseconds(500))
        let pids = client.stagePIDs
        XCTAssertEqual(pids.count, 2)
        kill(pids[0], SIGKILL)
        let result = await lookup
        XCTAssertThrowsError(try result.get()) { error in
            XCTAssertEqual((error as? STSError)?.kind, .internalError)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "answered at once, not after the stage's own timeout")

        try await Task.sleep(for: .milliseconds(50))
        let again = await client.run(["domain": "192.0.2.1"], timeout: .seconds(10))
        XCTAssertEqual(try again.get()["error"]?["kind"]?.stringValue, "invalid-domain", "a new pipeline answers")
        XCTAssertEqual(client.restarts, 1)
        XCTAssertNotEqual(client.stagePIDs, pids)
    }

    func testALookupPastMaxInFlightIsRefusedAtOnce() async throws {
        let (silent, port) = Self.silentResolver()
        defer { close(silent) }
        let client = StageClient(commands: [.init("sts-dns", ["--resolver", "127.0.0.1@\(port)", "--timeout", "30"]), .init("sts-parse")],
                                 maxInFlight: 3)
        let waiting = (0..<3).map { index in Task { await client.run(["domain": .string("w\(index).example")], timeout: .seconds(60)) } }
        let filling = ContinuousClock.now
        while client.inFlight < 3 && ContinuousClock.now - filling < .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(client.inFlight, 3)
        let started = ContinuousClock.now
        let refused = await client.run(["domain": "example.com"], timeout: .seconds(60))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1))
        XCTAssertThrowsError(try refused.get()) { error in
            XCTAssertEqual((error as? STSError)?.kind, .overloaded)
            XCTAssertTrue((error as? STSError)?.message.contains("3 lookups") ?? false, "\(error)")
        }
        // The stages go: the three in flight fail at once, and a new pipeline takes lookups again.
        client.stagePIDs.forEach { kill($0, SIGKILL) }
        for lookup in waiting {
            guard case .failure(let error) = await lookup.value else { return XCTFail("a lookup on a killed stage succeeded") }
            XCTAssertEqual(error.kind, .internalError)
        }
        try await Task.sleep(for: .milliseconds(300))
        let again = await client.run(["domain": "192.0.2.1"], timeout: .seconds(10))
        XCTAssertEqual(try again.get()["error"]?["kind"]?.stringValue, "invalid-domain")
        client.shutdown()
    }

    /// A first stage that stops reading (here: one record at a time, on a resolver that never answers)
    /// must cost the lookups that find its input full a quick refusal, never the daemon a thread. Not
    /// an async test: with writes that wait, every thread of the concurrency pool would be stuck in one.
    func testAFullPipelineInputRefusesTheLookupInsteadOfWaiting() throws {
        let (silent, port) = Self.silentResolver()
        defer { close(silent) }
        let client = StageClient(commands: [.init("sts-dns", ["--resolver", "127.0.0.1@\(port)", "--timeout", "30", "--concurrency", "1"])],
                                 maxInFlight: 100_000)
        final class Tally: Sendable { let count = Mutex(0) }
        let refused = Tally()
        let finished = expectation(description: "every lookup came back")
        Task.detached {
            await withTaskGroup(of: Void.self) { group in
                // Far more than the pipe and the stage's read buffer hold (about 128 KiB of records).
                for index in 0..<10_000 {
                    group.addTask {
                        // The lookups taken in time out after 3 s; those refused come back at once.
                        if case .failure(let error) = await client.run(["domain": .string("d\(index).example")], timeout: .seconds(3)),
                           error.kind == .overloaded {
                            refused.count.withLock { $0 += 1 }
                        }
                    }
                }
            }
            finished.fulfill()
        }
        let deadline = Date().addingTimeInterval(10)
        while refused.count.withLock({ $0 }) < 1000 && Date() < deadline { usleep(50_000) }
        XCTAssertGreaterThanOrEqual(refused.count.withLock { $0 }, 1000, "the lookups waited for room in the pipeline")
        let unstuck = XCTWaiter().wait(for: [finished], timeout: 30)
        XCTAssertEqual(unstuck, .completed)
        client.stagePIDs.forEach { kill($0, SIGKILL) }
        if unstuck != .completed { wait(for: [finished], timeout: 30) }
        client.shutdown()
    }

    func testAKilledStageIsStartedAgainWithoutWaitingForALookup() async throws {
        let client = StageClient(commands: [.init("sts-parse"), .init("sts-parse")], restartDelay: .milliseconds(50))
        defer { client.shutdown() }
        _ = await client.run(["domain": "a.example"], timeout: .seconds(10))
        let pids = client.stagePIDs
        XCTAssertEqual(pids.count, 2)
        kill(pids[1], SIGKILL)
        let deadline = ContinuousClock.now + .seconds(5)
        while client.stagePIDs.count != 2 || !Set(client.stagePIDs).isDisjoint(with: pids) {
            guard ContinuousClock.now < deadline else { return XCTFail("the pipeline was not started again: \(client.stagePIDs)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(client.restarts, 1)
        let again = await client.run(["domain": "b.example"], timeout: .seconds(10))
        XCTAssertEqual(try again.get()["domain"]?.stringValue, "b.example")
    }

    func testAMissingStageIsAClearError() async {
        let client = StageClient(commands: [.init("sts-no-such-stage")])
        let result = await client.run(["domain": "example.com"], timeout: .seconds(5))
        XCTAssertThrowsError(try result.get()) { error in
            XCTAssertTrue((error as? STSError)?.message.contains("sts-no-such-stage") ?? false)
        }
    }

    func testIdleStagesExitAndTheNextRecordStartsThemAgain() async throws {
        let client = StageClient(commands: [.init("sts-parse"), .init("sts-parse")], maxIdle: .milliseconds(300))
        defer { client.shutdown() }
        let first = try await client.run(["domain": "a.example"], timeout: .seconds(10)).get()
        XCTAssertEqual(first["domain"]?.stringValue, "a.example")
        let pids = client.stagePIDs
        XCTAssertEqual(pids.count, 2)
        let deadline = ContinuousClock.now + .seconds(5)
        while !client.stagePIDs.isEmpty {
            guard ContinuousClock.now < deadline else { return XCTFail("idle stages were not let go") }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(client.idleExits, 1)
        // They exit by themselves at the end of their input, and are reaped: no process is left.
        let gone = ContinuousClock.now + .seconds(5)
        while pids.contains(where: { kill($0, 0) == 0 }) {
            guard ContinuousClock.now < gone else { return XCTFail("the idle stages did not exit: \(pids)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let second = try await client.run(["domain": "b.example"], timeout: .seconds(10)).get()
        XCTAssertEqual(second["domain"]?.stringValue, "b.example")
        XCTAssertEqual(client.stagePIDs.count, 2)
        XCTAssertTrue(Set(client.stagePIDs).isDisjoint(with: pids))
        XCTAssertEqual(client.restarts, 0, "an idle exit is not a restart")
    }

    func testALookupInFlightKeepsTheStagesPastTheirIdleTime() async throws {
        // The resolver never answers: sts-dns holds the record until its own 1.5 s timeout.
        let (silent, port) = Self.silentResolver()
        defer { close(silent) }

        let client = StageClient(commands: [.init("sts-dns", ["--resolver", "127.0.0.1@\(port)", "--timeout", "1.5"])], maxIdle: .milliseconds(200))
        defer { client.shutdown() }
        let record = try await client.run(["domain": "example.com"], timeout: .seconds(10)).get()
        XCTAssertEqual(record["txt"]?["error"]?["kind"]?.stringValue ?? record["error"]?["kind"]?.stringValue, "dns-timeout",
                       "the stage answered the record itself: \(record)")
        XCTAssertEqual(client.idleExits, 0)
    }

    func testWithoutAMaxIdleTheStagesStay() async throws {
        let client = StageClient(commands: [.init("sts-parse")])
        defer { client.shutdown() }
        _ = await client.run(["domain": "a.example"], timeout: .seconds(10))
        let pids = client.stagePIDs
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(client.stagePIDs, pids)
        client.maxIdle = .milliseconds(100)
        let deadline = ContinuousClock.now + .seconds(5)
        while !client.stagePIDs.isEmpty {
            guard ContinuousClock.now < deadline else { return XCTFail("a max idle set later did not apply") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
