import Foundation
import STSCore
import STSStage
import Synchronization
import XCTest

/// Adds `seen: true`; a record with `delay_ms` sleeps that long first. Counts how many run at once.
final class ProbeStage: RecordStage {
    let running = Mutex((now: 0, peak: 0))

    func process(_ record: JSONObject) async -> JSONObject {
        running.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
        if let delay = record["delay_ms"]?.intValue {
            try? await Task.sleep(for: .milliseconds(delay))
        }
        running.withLock { $0.now -= 1 }
        var record = record
        record["seen"] = true
        return record
    }
}

final class StageRunnerTests: XCTestCase {
    /// Runs the stage over `input` through real file descriptors and returns the output lines.
    func run(_ input: String, stage: some RecordStage = ProbeStage(), concurrency: Int = 8, ordered: Bool = false, maxLineBytes: Int = 1 << 20) async throws -> [String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sts-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputPath = directory.appendingPathComponent("in").path
        let outputPath = directory.appendingPathComponent("out").path
        try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath))
        let inputFD = open(inputPath, O_RDONLY)
        let outputFD = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(inputFD); close(outputFD) }
        await StageRunner(concurrency: concurrency, ordered: ordered, maxLineBytes: maxLineBytes).run(stage, input: inputFD, output: outputFD)
        let output = try String(contentsOfFile: outputPath, encoding: .utf8)
        XCTAssertTrue(output.isEmpty || output.hasSuffix("\n"), "every record ends with a newline")
        return output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func testBareDomainBecomesARecord() async throws {
        let lines = try await run("example.com\n")
        XCTAssertEqual(lines, [#"{"domain":"example.com","seen":true}"#])
    }

    func testUnknownKeysAndIdPassThroughUntouched() async throws {
        let line = #"{"id":{"opaque":[1,2.50,"x"]},"domain":"a.example","extra":null,"n":1e3}"#
        let lines = try await run(line + "\n")
        XCTAssertEqual(lines, [#"{"id":{"opaque":[1,2.50,"x"]},"domain":"a.example","extra":null,"n":1e3,"seen":true}"#])
    }

    func testBadLinesBecomeErrorRecordsAndTheStageGoesOn() async throws {
        let lines = try await run("{\"domain\": \"a.example\"\n[1,2]\nnot a domain\n{\"domain\":\"b.example\"}\n", ordered: true)
        XCTAssertEqual(lines.count, 4)
        for (index, line) in lines.prefix(3).enumerated() {
            let record = try JSONParser.parse(line)
            XCTAssertEqual(record["error"]?["kind"]?.stringValue, "invalid-input", line)
            XCTAssertEqual(record["line"]?.intValue, index + 1)
            XCTAssertNil(record["seen"])
        }
        XCTAssertEqual(lines[3], #"{"domain":"b.example","seen":true}"#)
    }

    func testJSONScalarsAreNoRecordsButNamesStartingWithDigitsAreDomains() async throws {
        let lines = try await run("42\n-1.5e3\ntrue\nnull\nfalse\n3com.example\n1.2.3.4\n", ordered: true)
        XCTAssertEqual(lines.count, 7)
        for line in lines.prefix(5) {
            let record = try JSONParser.parse(line)
            XCTAssertEqual(record["error"]?["kind"]?.stringValue, "invalid-input", line)
            XCTAssertTrue(record["error"]?["message"]?.stringValue?.contains("not a JSON object") ?? false, line)
        }
        XCTAssertEqual(lines[5], #"{"domain":"3com.example","seen":true}"#)
        XCTAssertEqual(lines[6], #"{"domain":"1.2.3.4","seen":true}"#, "not JSON: a name for the stage to judge")
    }

    func testInvalidUTF8IsAnErrorRecord() async throws {
        let lines = try await run("caf\u{FFFD}\n" + String(decoding: [0x61, 0xFF, 0x0A], as: UTF8.self))
        XCTAssertEqual(lines.count, 2)
    }

    func testRecordsThatAlreadyFailedPassThroughUnprocessed() async throws {
        let line = #"{"domain":"x","error":{"kind":"invalid-domain","message":"m"}}"#
        let lines = try await run(line + "\n")
        XCTAssertEqual(lines, [line])
    }

    func testBlankLinesAreSkippedAndCRLFIsAccepted() async throws {
        let lines = try await run("\n  \r\na.example\r\n\n\t\nb.example", ordered: true)
        XCTAssertEqual(lines, [#"{"domain":"a.example","seen":true}"#, #"{"domain":"b.example","seen":true}"#])
    }

    func testAnOverlongLineIsAnErrorRecordNotACrash() async throws {
        let huge = String(repeating: "a", count: 5000)
        let lines = try await run("\(huge)\nafter.example\n\(huge)", ordered: true, maxLineBytes: 1024)
        XCTAssertEqual(lines.count, 3)
        let first = try JSONParser.parse(lines[0])
        XCTAssertEqual(first["error"]?["kind"]?.stringValue, "invalid-input")
        XCTAssertEqual(first["line"]?.intValue, 1)
        XCTAssertTrue(first["error"]?["message"]?.stringValue?.contains("5000 bytes") ?? false)
        XCTAssertEqual(first["input"]?.stringValue, String(huge.prefix(200)), "the start of the line says which it was")
        XCTAssertEqual(lines[1], #"{"domain":"after.example","seen":true}"#)
        XCTAssertEqual(try JSONParser.parse(lines[2])["line"]?.intValue, 3)
    }

    func testALineExactlyAtTheLimitIsAccepted() async throws {
        let name = String(repeating: "a", count: 1024)
        let lines = try await run(name + "\n" + name + "a\n", ordered: true, maxLineBytes: 1024)
        XCTAssertEqual(try JSONParser.parse(lines[0])["domain"]?.stringValue, name)
        XCTAssertEqual(try JSONParser.parse(lines[1])["error"]?["kind"]?.stringValue, "invalid-input")
    }

    func testASlowRecordDoesNotHoldBackTheOthers() async throws {
        let input = #"{"n":1,"delay_ms":1500}"# + "\n" + (2...20).map { #"{"n":\#($0)}"# }.joined(separator: "\n")
        let lines = try await run(input, concurrency: 4)
        XCTAssertEqual(lines.count, 20)
        XCTAssertEqual(try JSONParser.parse(lines.last!)["n"]?.intValue, 1, "the slow record comes out last")
    }

    func testOrderedKeepsInputOrder() async throws {
        let input = (1...30).map { #"{"n":\#($0),"delay_ms":\#((30 - $0) * 5)}"# }.joined(separator: "\n")
        let lines = try await run(input, concurrency: 10, ordered: true)
        XCTAssertEqual(try lines.map { try JSONParser.parse($0)["n"]?.intValue }, (1...30).map { $0 })
    }

    func testConcurrencyIsBounded() async throws {
        let stage = ProbeStage()
        let input = (1...40).map { #"{"n":\#($0),"delay_ms":20}"# }.joined(separator: "\n")
        let lines = try await run(input, stage: stage, concurrency: 5)
        XCTAssertEqual(lines.count, 40)
        let peak = stage.running.withLock { $0.peak }
        XCTAssertLessThanOrEqual(peak, 5)
        XCTAssertGreaterThan(peak, 1, "records do run concurrently")
    }

    func testEmptyInputWritesNothing() async throws {
        let lines = try await run("")
        XCTAssertEqual(lines, [])
    }
}
