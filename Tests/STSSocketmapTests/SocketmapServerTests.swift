import Foundation
import NIOCore
import STSCore
import STSSocketmap
import XCTest

/// Answers `OK <key>`; a key `slow:N` answers after N milliseconds.
struct EchoResponder: SocketmapResponder {
    func respond(to request: SocketmapRequest) async -> SocketmapReply {
        if request.key.hasPrefix("slow:"), let ms = Int(request.key.dropFirst(5)) {
            try? await Task.sleep(for: .milliseconds(ms))
        }
        return .ok("\(request.name) \(request.key)")
    }
}

/// Answers keys `now:X` at once (on the event loop), everything else as `EchoResponder`.
struct ImmediateResponder: SocketmapResponder {
    func respond(to request: SocketmapRequest) async -> SocketmapReply {
        await EchoResponder().respond(to: request)
    }

    func respondImmediately(to request: SocketmapRequest) -> SocketmapReply? {
        request.key.hasPrefix("now:") ? .ok("now \(request.key)") : nil
    }
}

/// A netstring, for writing requests and expected replies readably.
func ns(_ payload: String) -> String { "\(payload.utf8.count):\(payload)," }

final class SocketmapServerTests: XCTestCase {
    var server: SocketmapServer!
    var channel: Channel!
    var port = 0

    override func setUp() async throws {
        server = SocketmapServer(responder: EchoResponder(), threads: 1)
        channel = try await server.listen(on: .tcp(host: "127.0.0.1", port: 0), reusePort: false)
        port = channel.localAddress!.port!
    }

    override func tearDown() async throws {
        try? await channel.close()
        await server.shutdown()
    }

    /// A plain blocking client: sends bytes, reads until the peer closes or `expect` bytes arrived.
    func exchange(_ chunks: [String], expect: Int? = nil, pause: useconds_t = 0) throws -> String {
        let fd = connectClient()
        defer { close(fd) }
        for chunk in chunks {
            _ = chunk.withCString { send(fd, $0, strlen($0), 0) }
            if pause > 0 { usleep(pause) }
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while expect.map({ received.count < $0 }) ?? true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { XCTFail("recv failed: \(String(cString: strerror(errno)))") }
            if n <= 0 { break }
            received.append(contentsOf: buffer[..<n])
        }
        return String(decoding: received, as: UTF8.self)
    }

    func testOneRequest() throws {
        let reply = try exchange(["19:postfix example.com,"], expect: 22)
        XCTAssertEqual(reply, "22:OK postfix example.com,")
    }

    func testRepliesComeInRequestOrderEvenWhenLaterOnesFinishFirst() throws {
        let requests = ["postfix slow:300", "postfix fast1", "postfix slow:50", "postfix fast2"].map(ns)
        let expected = ["OK postfix slow:300", "OK postfix fast1", "OK postfix slow:50", "OK postfix fast2"].map(ns).joined()
        XCTAssertEqual(try exchange([requests.joined()], expect: expected.utf8.count), expected)
    }

    func testRequestsSplitAcrossReads() throws {
        let reply = try exchange(["1", "9:postfix ex", "ample.com", ","], expect: 22, pause: 20_000)
        XCTAssertEqual(reply, "22:OK postfix example.com,")
    }

    func testAMalformedNetstringClosesAfterTheRepliesDue() throws {
        let reply = try exchange([ns("postfix slow:100") + "x:garbage"])
        XCTAssertEqual(reply, ns("OK postfix slow:100"), "the reply due is written, then the connection is closed")
    }

    func testAnOversizedRequestClosesTheConnection() throws {
        XCTAssertEqual(try exchange(["16385:" + String(repeating: "a", count: 100)]), "")
    }

    func testARequestThatIsNotNameAndKeyGetsPERM() throws {
        let expected = ns("PERM malformed request: expected \"name key\"") + ns("OK postfix example.com")
        let reply = try exchange([ns("postfix") + ns("postfix example.com")], expect: expected.utf8.count)
        XCTAssertEqual(reply, expected, "the connection goes on")
    }

    func testOtherConnectionsAreUnaffectedByABadOne() throws {
        XCTAssertEqual(try exchange(["x"]), "")
        XCTAssertEqual(try exchange(["19:postfix example.com,"], expect: 22), "22:OK postfix example.com,")
    }

    func testUnixSocketWithMode() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sts-\(UUID().uuidString.prefix(8)).sock").path
        let unixChannel = try await server.listen(on: .unix(path: path, mode: 0o660), reusePort: false)
        defer { unlink(path) }
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660)
        try await unixChannel.close()
    }

    /// A server of its own with `limits`, listening on a fresh port; `port` points at it.
    func useServer(limits: ConnectionLimits) async throws -> SocketmapServer {
        let limited = SocketmapServer(responder: EchoResponder(), threads: 1, limits: limits)
        let limitedChannel = try await limited.listen(on: .tcp(host: "127.0.0.1", port: 0), reusePort: false)
        port = limitedChannel.localAddress!.port!
        return limited
    }

    /// A connected blocking socket to `port`, with a receive timeout.
    func connectClient(timeout seconds: Int = 5) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(connected, 0)
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Reads until the peer closes (""), `count` bytes arrived, or the receive timeout (nil).
    func receive(_ fd: Int32, count: Int = Int.max) -> String? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < count {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? nil : "" }
            if n == 0 { break }
            received.append(contentsOf: buffer[..<n])
        }
        return String(decoding: received, as: UTF8.self)
    }

    func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    func testConnectionsBeyondTheLimitAreClosedAndTheOthersGoOn() async throws {
        let limited = try await useServer(limits: ConnectionLimits(maxConnections: 2))
        let first = connectClient(), second = connectClient()
        defer { close(first); close(second) }
        write(first, ns("postfix a.example"))
        XCTAssertEqual(receive(first, count: ns("OK postfix a.example").utf8.count), ns("OK postfix a.example"))
        let third = connectClient()
        XCTAssertEqual(receive(third), "", "the connection over the limit is closed at once")
        close(third)
        XCTAssertEqual(limited.refusedCount, 1)
        write(second, ns("postfix b.example"))
        XCTAssertEqual(receive(second, count: ns("OK postfix b.example").utf8.count), ns("OK postfix b.example"), "the admitted ones keep being answered")
        close(first)
        var fourth: Int32 = -1
        for _ in 0..<50 {
            // The slot frees once the server has seen the close.
            try await Task.sleep(for: .milliseconds(20))
            if limited.connectionCount < 2 { fourth = connectClient(); break }
        }
        XCTAssertGreaterThanOrEqual(fourth, 0)
        write(fourth, ns("postfix c.example"))
        XCTAssertEqual(receive(fourth, count: ns("OK postfix c.example").utf8.count), ns("OK postfix c.example"))
        close(fourth)
        await limited.shutdown()
    }

    func testAnIdleConnectionIsClosedAfterTheIdleTimeout() async throws {
        let limited = try await useServer(limits: ConnectionLimits(idleTimeout: .milliseconds(300)))
        let fd = connectClient()
        defer { close(fd) }
        write(fd, ns("postfix a.example"))
        XCTAssertEqual(receive(fd, count: ns("OK postfix a.example").utf8.count), ns("OK postfix a.example"))
        let start = ContinuousClock.now
        XCTAssertEqual(receive(fd), "", "closed by the server")
        let waited = ContinuousClock.now - start
        XCTAssertGreaterThan(waited, .milliseconds(200))
        XCTAssertLessThan(waited, .seconds(3))
        await limited.shutdown()
    }

    func testAConnectionInUseOutlivesTheIdleTimeout() async throws {
        let limited = try await useServer(limits: ConnectionLimits(idleTimeout: .milliseconds(300)))
        let fd = connectClient()
        defer { close(fd) }
        // A request every 100 ms for a second: more than three idle timeouts, never idle for one.
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(1) {
            write(fd, ns("postfix busy.example"))
            XCTAssertEqual(receive(fd, count: ns("OK postfix busy.example").utf8.count), ns("OK postfix busy.example"))
            try await Task.sleep(for: .milliseconds(100))
        }
        let idleStart = ContinuousClock.now
        XCTAssertEqual(receive(fd), "", "closed once idle")
        XCTAssertGreaterThan(ContinuousClock.now - idleStart, .milliseconds(150))
        await limited.shutdown()
    }

    func testARequestTrickledByteByByteDoesNotKeepTheConnection() async throws {
        let limited = try await useServer(limits: ConnectionLimits(idleTimeout: .milliseconds(400)))
        let fd = connectClient()
        defer { close(fd) }
        let start = ContinuousClock.now
        // One byte every 100 ms would take 2 s to finish the request; the server closes first.
        for byte in ns("postfix trickle.example") {
            write(fd, String(byte))
            if ContinuousClock.now - start > .seconds(1) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(receive(fd), "", "closed without an answer")
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))
        await limited.shutdown()
    }

    func testAClientWaitingForASlowAnswerIsNotIdle() async throws {
        let limited = try await useServer(limits: ConnectionLimits(idleTimeout: .milliseconds(200)))
        let fd = connectClient()
        defer { close(fd) }
        write(fd, ns("postfix slow:800"))
        XCTAssertEqual(receive(fd, count: ns("OK postfix slow:800").utf8.count), ns("OK postfix slow:800"))
        await limited.shutdown()
    }

    func testAnInheritedListeningSocketIsServed() async throws {
        // What systemd passes: a socket bound and listening before we start.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(fd, 16), 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let inherited = try await server.listen(on: .inherited(fd: fd, name: "sts-socketmapd.socket"), reusePort: true)
        port = Int(UInt16(bigEndian: address.sin_port))
        XCTAssertEqual(try exchange([ns("postfix example.com")], expect: 22), ns("OK postfix example.com"))
        try await inherited.close()
    }

    func testImmediateRepliesKeepRequestOrderBehindSlowOnes() async throws {
        let immediate = SocketmapServer(responder: ImmediateResponder(), threads: 1)
        let immediateChannel = try await immediate.listen(on: .tcp(host: "127.0.0.1", port: 0), reusePort: false)
        port = immediateChannel.localAddress!.port!
        let requests = ["postfix now:a", "postfix slow:200", "postfix now:b", "postfix now:c"].map(ns).joined()
        let expected = ["OK now now:a", "OK postfix slow:200", "OK now now:b", "OK now now:c"].map(ns).joined()
        XCTAssertEqual(try exchange([requests], expect: expected.utf8.count), expected)
        try? await immediateChannel.close()
        await immediate.shutdown()
    }
}
