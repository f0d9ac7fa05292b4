import STSDaemon
import XCTest

final class SocketActivationTests: XCTestCase {
    func testNoVariablesMeansNoSockets() throws {
        XCTAssertEqual(try SocketActivation.sockets(environment: [:], pid: 42), [])
        XCTAssertEqual(try SocketActivation.sockets(environment: ["LISTEN_FDS": "1"], pid: 42), [])
    }

    func testSocketsStartAtDescriptorThreeWithTheirNames() throws {
        let sockets = try SocketActivation.sockets(environment: ["LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "inet:unix"], pid: 42)
        XCTAssertEqual(sockets, [.init(fd: 3, name: "inet"), .init(fd: 4, name: "unix")])
    }

    func testMissingNamesAreUnknown() throws {
        let sockets = try SocketActivation.sockets(environment: ["LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "inet"], pid: 42)
        XCTAssertEqual(sockets.map(\.name), ["inet", "unknown"])
    }

    func testVariablesForAnotherProcessAreIgnored() throws {
        // A parent that was activated and then started us (e.g. through a wrapper) keeps its sockets.
        XCTAssertEqual(try SocketActivation.sockets(environment: ["LISTEN_PID": "41", "LISTEN_FDS": "1"], pid: 42), [])
    }

    func testMalformedVariablesAreErrors() {
        XCTAssertThrowsError(try SocketActivation.sockets(environment: ["LISTEN_PID": "x", "LISTEN_FDS": "1"], pid: 42))
        XCTAssertThrowsError(try SocketActivation.sockets(environment: ["LISTEN_PID": "42", "LISTEN_FDS": "-1"], pid: 42))
        XCTAssertThrowsError(try SocketActivation.sockets(environment: ["LISTEN_PID": "42", "LISTEN_FDS": "many"], pid: 42))
    }
}
