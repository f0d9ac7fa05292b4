import STSCore
#if canImport(Glibc)
import Glibc
#endif

/// Listening sockets handed over by systemd (sd_listen_fds(3) without libsystemd): when
/// $LISTEN_PID is this process, $LISTEN_FDS sockets start at descriptor 3, named by $LISTEN_FDNAMES.
public enum SocketActivation {
    public static let firstDescriptor: Int32 = 3

    public struct Socket: Sendable, Equatable {
        public var fd: Int32
        public var name: String

        public init(fd: Int32, name: String) {
            self.fd = fd
            self.name = name
        }
    }

    /// The sockets the environment describes for process `pid`: none when the variables are absent or
    /// meant for another process (a parent that was activated and started us), an error when they
    /// are malformed.
    public static func sockets(environment: [String: String], pid: Int32) throws(STSError) -> [Socket] {
        guard let listenPID = environment["LISTEN_PID"], let countText = environment["LISTEN_FDS"] else { return [] }
        guard let owner = Int32(listenPID), owner > 0 else {
            throw STSError(.invalidInput, "LISTEN_PID is not a process id: \(listenPID.debugDescription)")
        }
        guard owner == pid else { return [] }
        guard let count = Int32(countText), count >= 0, count <= 64 else {
            throw STSError(.invalidInput, "LISTEN_FDS is not a count of sockets: \(countText.debugDescription)")
        }
        let names = environment["LISTEN_FDNAMES"].map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        return (0..<count).map { index in
            let name = Int(index) < names.count && !names[Int(index)].isEmpty ? names[Int(index)] : "unknown"
            return Socket(fd: firstDescriptor + index, name: name)
        }
    }

    /// The sockets passed to this process. Each must be a listening stream socket; the variables are
    /// removed so that the stage processes we start do not think the sockets are theirs, and the
    /// descriptors are marked close-on-exec for the same reason.
    public static func inherited() throws(STSError) -> [Socket] {
        let names = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
        let environment = Dictionary(uniqueKeysWithValues: names.compactMap { name in getenv(name).map { (name, String(cString: $0)) } })
        let sockets = try sockets(environment: environment, pid: getpid())
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        for socket in sockets {
            var type: Int32 = 0
            var listening: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(socket.fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else {
                throw STSError(.invalidInput, "inherited descriptor \(socket.fd) (\(socket.name)) is not a socket")
            }
            length = socklen_t(MemoryLayout<Int32>.size)
            guard type == Int32(SOCK_STREAM.rawValue), getsockopt(socket.fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0, listening != 0 else {
                throw STSError(.invalidInput, "inherited descriptor \(socket.fd) (\(socket.name)) is not a listening stream socket; use ListenStream= without Accept=yes")
            }
            _ = fcntl(socket.fd, F_SETFD, FD_CLOEXEC)
        }
        return sockets
    }
}
