import NIOCore
import NIOConcurrencyHelpers
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
    /// A socket already bound and listening, handed over by the service manager (socket activation).
    case inherited(fd: Int32, name: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path, _): "unix:\(path)"
        case .inherited(let fd, let name): "fd:\(fd)(\(name))"
        }
    }
}

/// What one client may hold: how many connections at once, and how long a connection may go without
/// sending a whole request while none of its replies is pending.
public struct ConnectionLimits: Sendable, Equatable {
    /// Connections beyond this many are closed as soon as they are accepted; 0: no limit.
    public var maxConnections: Int
    /// A connection with no reply pending that completes no request for this long is closed (a
    /// client sending a request byte by byte does not reset it); nil: never.
    public var idleTimeout: Duration?

    public init(maxConnections: Int = 0, idleTimeout: Duration? = nil) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }
}

/// The socketmap listener: accepts connections and gives each its own `SocketmapHandler`.
public final class SocketmapServer: Sendable {
    public let group: MultiThreadedEventLoopGroup
    private let responder: SocketmapResponder
    private let limits: ConnectionLimits
    private let listeners = NIOLockedValueBox<[Channel]>([])
    private let gate: ConnectionGate

    /// `threads` event loops serve the connections (the daemon's `event_loops`, one by default). `onRefused`
    /// is called with the running count each time a connection over the limit is closed.
    public init(responder: SocketmapResponder, threads: Int = 1, limits: ConnectionLimits = .init(), onRefused: (@Sendable (Int) -> Void)? = nil) {
        self.responder = responder
        self.limits = limits
        self.gate = ConnectionGate(limit: limits.maxConnections, onRefused: onRefused)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// Binds and starts accepting. `reusePort` lets a second instance share a TCP port for seamless
    /// restarts (SO_REUSEPORT).
    public func listen(on address: ListenAddress, reusePort: Bool) async throws(STSError) -> Channel {
        let responder = self.responder
        let gate = self.gate
        let limits = self.limits
        let idleTimeout = limits.idleTimeout.map { TimeAmount.nanoseconds(Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000) }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                guard gate.admit(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SocketmapHandler(responder: responder, idleTimeout: idleTimeout))
                }
            }
        do {
            switch address {
            case .inherited(let fd, _):
                let channel = try await bootstrap.withBoundSocket(fd).get()
                listeners.withLockedValue { $0.append(channel) }
                return channel
            case .tcp(let host, let port):
                let withReuse = reusePort ? bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_REUSEPORT)), value: 1) : bootstrap
                // An address literal is bound as it is: resolving "::1" through getaddrinfo fails
                // on hosts without a global IPv6 address (AI_ADDRCONFIG).
                let channel: Channel
                if let literal = try? SocketAddress(ipAddress: host, port: port) {
                    channel = try await withReuse.bind(to: literal).get()
                } else {
                    channel = try await withReuse.bind(host: host, port: port).get()
                }
                listeners.withLockedValue { $0.append(channel) }
                return channel
            case .unix(let path, let mode):
                // A socket file left by a previous run would make bind fail; only a socket is removed.
                var info = stat()
                if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
                let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
                listeners.withLockedValue { $0.append(channel) }
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

    /// Connections open now.
    public var connectionCount: Int { gate.count }

    /// Connections closed so far because `maxConnections` were open.
    public var refusedCount: Int { gate.refusedCount }

    /// Graceful stop: stop accepting, let every connection finish the requests it has sent (idle ones
    /// close at once), and after `timeout` close whatever is left.
    public func drain(timeout: Duration) async {
        for listener in listeners.withLockedValue({ $0 }) { try? await listener.close() }
        for channel in gate.channels {
            channel.eventLoop.execute {
                guard let context = try? channel.pipeline.syncOperations.context(handlerType: SocketmapHandler.self),
                    let handler = context.handler as? SocketmapHandler
                else { return }
                handler.drain(context: context)
            }
        }
        let deadline = ContinuousClock.now + timeout
        while connectionCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for channel in gate.channels { try? await channel.close() }
    }

    public func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
