#if canImport(Glibc)
import Glibc
#endif
import CLibc
import STSCore

/// A child process started with posix_spawn, with its standard input and output bound to descriptors
/// we choose, standard error shared, and no other descriptor inherited.
public struct ChildProcess: Sendable {
    public let pid: pid_t
    public let path: String

    /// The program's file name (`sts-dns`), for messages.
    public var name: String { path.split(separator: "/").last.map(String.init) ?? path }

    /// Starts `path` with `arguments`, reading from `stdinFD` and writing to `stdoutFD`; standard
    /// error is shared with ours.
    public static func spawn(_ path: String, arguments: [String], stdinFD: Int32, stdoutFD: Int32) throws(STSError) -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinFD, STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, STDOUT_FILENO)
        // Nothing else of ours goes to the child: not every library marks its descriptors close-on-exec
        // (a stage holding the daemon's listening socket would keep the port half-open after a restart).
        sts_spawn_add_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal dispositions even if we ignore SIGPIPE.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard code == 0 else {
            throw STSError(.internalError, "cannot start \(path): \(String(cString: strerror(code)))")
        }
        return ChildProcess(pid: pid, path: path)
    }

    /// Waits for the child to exit; its exit status, or 128 + signal number if a signal ended it.
    @discardableResult
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// A new pipe whose two ends are close-on-exec: (read, write).
    public static func pipe() throws(STSError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard Glibc.pipe(&ends) == 0 else {
            throw STSError(.internalError, "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    /// The executable `name` next to this program, else on PATH.
    public static func locate(_ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            let own = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = own.lastIndex(of: "/") {
                let sibling = own[..<slash] + "/" + name
                if access(sibling, X_OK) == 0 { return String(sibling) }
            }
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
