import NIOCore
import NIOPosix
import STSCore
#if canImport(Glibc)
import Glibc
#endif

/// Where the server listens.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    /// A unix socket, with the file mode to give it.
    case unix(path: String, mode: Int?)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path, _): "unix:\(path)"
        }
    }
}

/// The socketmap listener: accepts connections and gives each its own `SocketmapHandler`.
public final class SocketmapServer: Sendable {
    public let group: MultiThreadedEventLoopGroup
    private let responder: SocketmapResponder

    public init(responder: SocketmapResponder, threads: Int = System.coreCount) {
        self.responder = responder
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// Binds and starts accepting. `reusePort` lets a second instance share a TCP port for seamless
    /// restarts (SO_REUSEPORT).
    public func listen(on address: ListenAddress, reusePort: Bool) async throws(STSError) -> Channel {
        let responder = self.responder
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SocketmapHandler(responder: responder))
                }
            }
        do {
            switch address {
            case .tcp(let host, let port):
                let withReuse = reusePort ? bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_REUSEPORT)), value: 1) : bootstrap
                return try await withReuse.bind(host: host, port: port).get()
            case .unix(let path, let mode):
                // A socket file left by a previous run would make bind fail; only a socket is removed.
                var info = stat()
                if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
                let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
                if let mode, chmod(path, mode_t(mode)) != 0 {
                    throw STSError(.internalError, "cannot set mode \(String(mode, radix: 8)) on \(path): \(String(cString: strerror(errno)))")
                }
                return channel
            }
        } catch let error as STSError {
            throw error
        } catch {
            throw STSError(.internalError, "cannot listen on \(address): \(error)")
        }
    }

    public func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
