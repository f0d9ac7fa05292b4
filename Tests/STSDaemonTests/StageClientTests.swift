import Foundation
import STSCore
import STSDaemon
import STSStage
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
