import Foundation
import STSStage
import XCTest

final class LineReaderTests: XCTestCase {
    func lines(_ bytes: [UInt8], max: Int, bufferSize: Int) throws -> [LineReader.Line] {
        var pair: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&pair), 0)
        let ends = pair
        let writer = Thread {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(ends[1], raw.baseAddress! + offset, min(7, raw.count - offset))
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(ends[1])
        }
        writer.start()
        var reader = LineReader(fd: ends[0], maxLineBytes: max, bufferSize: bufferSize)
        var result: [LineReader.Line] = []
        while let line = reader.next() { result.append(line) }
        close(ends[0])
        return result
    }

    func testSplitsAcrossSmallReadsAndBuffers() throws {
        for bufferSize in [1, 2, 3, 16, 4096] {
            let result = try lines(Array("ab\r\ncd\n\nlast".utf8), max: 100, bufferSize: bufferSize)
            XCTAssertEqual(result, [.bytes(Array("ab".utf8)), .bytes(Array("cd".utf8)), .bytes([]), .bytes(Array("last".utf8))], "buffer \(bufferSize)")
        }
    }

    func testOverlongLinesAreReportedWithTheirLength() throws {
        for bufferSize in [3, 8, 4096] {
            let input = Array("12345678901\nok\n123456789012345".utf8)
            let result = try lines(input, max: 10, bufferSize: bufferSize)
            XCTAssertEqual(result, [.tooLong(11, start: Array("12345678901".utf8)), .bytes(Array("ok".utf8)),
                                    .tooLong(15, start: Array("123456789012345".utf8))], "buffer \(bufferSize)")
        }
    }

    func testTheLimitIsOnTheLineWithoutItsCRLF() throws {
        for bufferSize in [1, 2, 5, 11, 4096] {
            // Ten bytes and CRLF, ten and LF, ten and CR at the end of input, eleven with CRLF, eleven at the end.
            let input = Array("0123456789\r\n0123456789\nabcdefghij\r\n0123456789a\r\n0123456789\r".utf8)
            let result = try lines(input, max: 10, bufferSize: bufferSize)
            XCTAssertEqual(result, [.bytes(Array("0123456789".utf8)), .bytes(Array("0123456789".utf8)), .bytes(Array("abcdefghij".utf8)),
                                    .tooLong(12, start: Array("0123456789a\r".utf8)), .bytes(Array("0123456789".utf8))], "buffer \(bufferSize)")
            let over = try lines(Array("0123456789ab".utf8), max: 10, bufferSize: bufferSize)
            XCTAssertEqual(over, [.tooLong(12, start: Array("0123456789ab".utf8))], "buffer \(bufferSize)")
        }
    }

    func testAnOverlongLineKeepsOnlyItsStart() throws {
        for bufferSize in [7, 64, 4096] {
            let long = Array(repeating: UInt8(ascii: "x"), count: 1000)
            let result = try lines(long + Array("\nok\n".utf8) + long, max: 300, bufferSize: bufferSize)
            let start = Array(long.prefix(LineReader.keptBytes))
            XCTAssertEqual(result, [.tooLong(1000, start: start), .bytes(Array("ok".utf8)), .tooLong(1000, start: start)], "buffer \(bufferSize)")
        }
    }

    func testLoneCRStaysInTheLine() throws {
        let result = try lines(Array("a\rb\n".utf8), max: 10, bufferSize: 64)
        XCTAssertEqual(result, [.bytes(Array("a\rb".utf8))])
    }
}
