import Foundation
import Logging
import STSCore
import STSDaemon
import XCTest

final class LineLogHandlerTests: XCTestCase {
    /// The lines a handler writes for `body`, read back through a pipe.
    func lines(format: LineLogHandler.Format = .text, level: Logger.Level = .info, _ body: (Logger) -> Void) -> [String] {
        written { sink in
            body(Logger(label: "sts-test") { label in LineLogHandler(label: label, sink: sink, level: level, format: format) })
        }
    }

    /// The lines written to a sink by `body`.
    func written(_ body: (LineLogHandler.Sink) -> Void) -> [String] {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let sink = LineLogHandler.Sink(fd: fds[1])
        body(sink)
        sink.flush()
        close(fds[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        close(fds[0])
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// A pipe nobody reads yet, already full of `f`s (`filled` bytes): whoever writes to it blocks
    /// until the test reads.
    func fullPipe() -> (fds: [Int32], filled: Int) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        XCTAssertEqual(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0)
        let filler = [UInt8](repeating: UInt8(ascii: "f"), count: 4096)
        var filled = 0
        while write(fds[1], filler, filler.count) > 0 { filled += filler.count }
        XCTAssertEqual(fcntl(fds[1], F_SETFL, 0), 0)
        return (fds, filled)
    }

    func testAFullBatchIsWrittenByTheFlusherNotTheCaller() throws {
        let (fds, filled) = fullPipe()
        defer { close(fds[0]) }
        let sink = LineLogHandler.Sink(fd: fds[1])
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 99)
        let lines = (LineLogHandler.Sink.batchBytes / 100) * 3  // three batches, under the bound
        let written = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for _ in 0..<lines { sink.write(bytes: line) }
            written.signal()
        }
        XCTAssertEqual(written.wait(timeout: .now() + 5), .success, "the caller waited for the pipe")
        // The last, partial batch: flushed by another thread, as that blocks until the test reads.
        DispatchQueue.global().async { sink.flush() }
        // Now the reader comes: every line arrives, after the filler, in order.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let expected = filled + lines * 100
        let reading = DispatchTime.now()
        while bytes.count < expected, DispatchTime.now().uptimeNanoseconds - reading.uptimeNanoseconds < 10_000_000_000 {
            var ready = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 1000) == 1 else { continue }
            let count = read(fds[0], &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        close(fds[1])
        XCTAssertEqual(bytes.count, expected)
        XCTAssertEqual(Array(bytes[filled...]), Array(repeating: line + [0x0A], count: lines).flatMap { $0 })
    }

    func testALogThatCannotKeepUpDropsAndCountsLinesAndNeverBlocksTheCaller() throws {
        let (fds, filled) = fullPipe()  // a stuck log
        defer { close(fds[0]) }
        let sink = LineLogHandler.Sink(fd: fds[1], format: .text, label: "sts-test")
        let count = (LineLogHandler.Sink.batchBytes / 100) * 40  // far past the bound on what is gathered
        @Sendable func line(_ number: Int) -> [UInt8] {
            let text = "line \(number)"
            return Array((text + String(repeating: "x", count: 99 - text.utf8.count)).utf8)
        }
        let written = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for number in 0..<count { sink.write(bytes: line(number)) }
            sink.write("a warning after the stall", urgent: true)
            written.signal()
        }
        XCTAssertEqual(written.wait(timeout: .now() + 5), .success, "the caller waited for the log")
        // The log comes unstuck: what was kept arrives in order, then how many lines were dropped.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let reading = DispatchTime.now()
        while DispatchTime.now().uptimeNanoseconds - reading.uptimeNanoseconds < 10_000_000_000 {
            var ready = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 500) == 1 else {
                if String(decoding: bytes, as: UTF8.self).contains("log lines dropped") { break }
                continue
            }
            let read = read(fds[0], &chunk, chunk.count)
            if read <= 0 { break }
            bytes += chunk[..<read]
        }
        close(fds[1])
        XCTAssertEqual(Array(bytes.prefix(filled)), Array(repeating: UInt8(ascii: "f"), count: filled))
        let lines = String(decoding: bytes.dropFirst(filled), as: UTF8.self).split(separator: "\n").map(String.init)
        let kept = lines.filter { $0.hasPrefix("line ") }
        XCTAssertGreaterThan(kept.count, 0)
        XCTAssertLessThan(kept.count, count, "nothing was dropped")
        XCTAssertEqual(kept, (0..<kept.count).map { String(decoding: line($0), as: UTF8.self) }, "the first lines, whole and in order")
        XCTAssertEqual(lines.filter { $0 == "a warning after the stall" }.count, 1, "a warning still had room")
        let notices = lines.filter { $0.contains(" warning sts-test: log lines dropped count=") }
        let dropped = notices.compactMap { Int($0.components(separatedBy: "count=").last?.split(separator: " ").first ?? "") }.reduce(0, +)
        XCTAssertFalse(notices.isEmpty, lines.suffix(3).joined(separator: "\n"))
        XCTAssertEqual(kept.count + dropped, count, "every line is either written or counted")
        XCTAssertEqual(sink.droppedLines, dropped)
    }

    func testATextLineHasTimeLevelLabelMessageAndSortedMetadata() throws {
        let written = lines { $0.info("decision", metadata: ["zone": "postfix", "domain": "example.com", "ms": "0"]) }
        XCTAssertEqual(written.count, 1)
        let line = try XCTUnwrap(written.first)
        let parts = line.split(separator: " ", maxSplits: 1)
        XCTAssertEqual(parts.first?.count, "2026-11-25T09:37:05Z".count)
        let time = try XCTUnwrap(ISO8601DateFormatter().date(from: String(try XCTUnwrap(parts.first))), line)
        XCTAssertLessThan(abs(time.timeIntervalSinceNow), 5, "the line's time is now, in UTC")
        XCTAssertEqual(parts.last, "info sts-test: decision domain=example.com ms=0 zone=postfix")
    }

    func testValuesThatCouldBreakTheLineAreQuotedAndEscaped() throws {
        let hostile = "OK secure match=a\"b\\c\nnext\r\t\u{1}\u{7F}end"
        let written = lines { $0.warning("decision", metadata: ["answer": .string(hostile), "plain": "x"]) }
        XCTAssertEqual(written.count, 1, "one line whatever the value holds")
        XCTAssertTrue(try XCTUnwrap(written.first).hasSuffix(#" answer="OK secure match=a\"b\\c\nnext\r\t\u{1}\u{7f}end" plain=x"#), written[0])
    }

    func testNonStringValuesAndLevelsBelowTheThreshold() throws {
        let written = lines(level: .notice) { logger in
            logger.info("dropped")
            logger.notice("kept", metadata: ["count": .stringConvertible(42), "list": .array(["a", "b"])])
        }
        XCTAssertEqual(written.count, 1)
        XCTAssertTrue(try XCTUnwrap(written.first).hasSuffix(#"notice sts-test: kept count=42 list="[\"a\", \"b\"]""#), written[0])
    }

    func testAJSONLineIsOneObjectWithEveryField() throws {
        let written = lines(format: .json) { $0.info("decision", metadata: ["answer": "OK secure match=a", "domain": "example.com"]) }
        XCTAssertEqual(written.count, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: String])
        XCTAssertEqual(object["level"], "info")
        XCTAssertEqual(object["logger"], "sts-test")
        XCTAssertEqual(object["message"], "decision")
        XCTAssertEqual(object["answer"], "OK secure match=a")
        XCTAssertEqual(object["domain"], "example.com")
        XCTAssertNotNil(object["time"])
    }

    func testJSONMetadataCannotReplaceTheLinesOwnFields() throws {
        let written = lines(format: .json) { $0.info("decision", metadata: ["level": "forged", "message": "forged", "x": "\"\n"]) }
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: String])
        XCTAssertEqual(object["level"], "info")
        XCTAssertEqual(object["message"], "decision")
        XCTAssertEqual(object["x"], "\"\n")
    }

    /// The decision line is written without swift-log; it must read exactly as the Logger would write it.
    func testEachByteIsQuotedOrEscapedAsItNeeds() throws {
        for byte in UInt8(0)...UInt8(127) {
            let value = "a" + String(UnicodeScalar(byte)) + "b"
            let field = try XCTUnwrap(lines { $0.notice("m", metadata: ["k": .string(value)]) }.first?.components(separatedBy: " k=").last)
            switch byte {
            case 0x20, UInt8(ascii: "="): XCTAssertEqual(field, "\"\(value)\"", "byte \(byte)")
            case UInt8(ascii: "\""): XCTAssertEqual(field, #""a\"b""#)
            case UInt8(ascii: "\\"): XCTAssertEqual(field, #""a\\b""#)
            case 0x0A: XCTAssertEqual(field, #""a\nb""#)
            case 0..<0x20, 0x7F: XCTAssertTrue(field.hasPrefix("\"a\\") && field.hasSuffix("b\""), "byte \(byte): \(field)")
            default: XCTAssertEqual(field, value, "byte \(byte)")
            }
        }
        XCTAssertEqual(lines { $0.notice("m", metadata: ["k": "bücher"]) }.first?.components(separatedBy: " k=").last, "bücher")
    }

    func testADecisionLineIsTheLineTheLoggerWouldWrite() throws {
        let answers: [SocketmapReply] = [.ok("secure match=a\"b c\nd"), .notFound, .temp("dns\nfailure"), .ok("plain")]
        for format in LineLogHandler.Format.allCases {
            for (answer, ms) in zip(answers, [12, 0, 1234, 7]) {
                var pair: [String] = []
                for _ in 0..<3 {  // the two lines must fall in the same second
                    pair = written { sink in
                        Logger(label: "sts-test") { LineLogHandler(label: $0, sink: sink, level: .info, format: format) }
                            .info("decision", metadata: ["zone": "postfix", "domain": "example.com", "answer": .string(answer.payload),
                                                         "why": "policy 1 in enforce mode", "from": "cache", "ms": "\(ms)"])
                        DecisionLog(sink: sink, format: format, label: "sts-test", level: .info)
                            .write(zone: "postfix", domain: "example.com", answer: answer, why: "policy 1 in enforce mode", from: "cache", milliseconds: ms)
                    }
                    if pair.count == 2 && pair[0] == pair[1] { break }
                }
                XCTAssertEqual(pair.count, 2)
                XCTAssertEqual(pair.first, pair.last, "\(format) \(answer)")
            }
        }
        XCTAssertEqual(written { sink in
            let log = DecisionLog(sink: sink, format: .text, label: "sts-test", level: .notice)
            XCTAssertFalse(log.isEnabled)
            log.write(zone: "postfix", domain: "example.com", answer: .notFound, why: "x", from: "cache", milliseconds: 0)
        }, [], "no decision lines above info")
    }
}
