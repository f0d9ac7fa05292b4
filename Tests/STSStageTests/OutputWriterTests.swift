import Foundation
import STSCore
import STSStage
import Synchronization
import XCTest

final class OutputWriterTests: XCTestCase {
    override func setUp() {
        // A write to a pipe nobody reads must fail with EPIPE, not end the test run.
        signal(SIGPIPE, SIG_IGN)
    }

    private func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testOrderedLinesWaitForTheirTurn() throws {
        let ends = try ChildProcess.pipe()
        let written = Mutex(0)
        let writer = OutputWriter(fd: ends.write, ordered: true, onWritten: { written.withLock { $0 += 1 } })
        XCTAssertTrue(writer.emit(sequence: 1, line: Array("b".utf8)))
        XCTAssertEqual(written.withLock { $0 }, 0, "record 1 waits for record 0")
        XCTAssertTrue(writer.emit(sequence: 0, line: Array("a".utf8)))
        XCTAssertEqual(written.withLock { $0 }, 2)
        close(ends.write)
        XCTAssertEqual(readAll(ends.read), "a\nb\n")
        close(ends.read)
        XCTAssertNil(writer.failure)
    }

    func testReportModeTellsOfAReaderThatWentAwayInsteadOfExiting() throws {
        let ends = try ChildProcess.pipe()
        close(ends.read)
        defer { close(ends.write) }
        let writer = OutputWriter(fd: ends.write, ordered: false, onFailure: .report)
        XCTAssertFalse(writer.emit(sequence: 0, line: Array("a".utf8)))
        XCTAssertEqual(writer.failure?.code, EPIPE)
        XCTAssertTrue(writer.failure?.readerGone ?? false)
        XCTAssertFalse(writer.emit(sequence: 1, line: Array("b".utf8)), "nothing more is written once a write failed")
    }

    func testReportModeTellsOfAFullDisk() throws {
        let fd = open("/dev/full", O_WRONLY)
        guard fd >= 0 else { return XCTFail("cannot open /dev/full: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = Mutex(0)
        let writer = OutputWriter(fd: fd, ordered: true, onFailure: .report, onWritten: { written.withLock { $0 += 1 } })
        XCTAssertFalse(writer.emit(sequence: 0, line: Array("a".utf8)))
        XCTAssertEqual(writer.failure?.code, ENOSPC)
        XCTAssertEqual(writer.failure?.readerGone, false)
        XCTAssertEqual(writer.failure?.message, String(cString: strerror(ENOSPC)))
        XCTAssertEqual(written.withLock { $0 }, 0, "a line that was not written is not counted")
    }
}
