import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import STSCore
import STSSocketmap

/// A Prometheus scrape endpoint on its own listener: `GET /metrics` in the text exposition format.
///
/// A scraper needs one connection: at most `maxConnections` are open at once, and one that sends
/// nothing for `idleTimeout` (the daemon's `idle_timeout`) is closed, so that idle connections cannot
/// take the descriptors the socketmap listener and the stages need.
public final class MetricsServer: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let group: MultiThreadedEventLoopGroup
    private let gate: ConnectionGate
    private let idleTimeout: TimeAmount?
    public static let maxConnections = 16

    /// `idleTimeout`: nil, never.
    public init(registry: PrometheusCollectorRegistry, idleTimeout: TimeAmount? = .seconds(60)) {
        self.registry = registry
        self.idleTimeout = idleTimeout
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        gate = ConnectionGate(limit: Self.maxConnections)
    }

    /// Connections open now.
    public var connectionCount: Int { gate.count }

    /// `listen` is `HOST:PORT` (`[::1]:9461` for IPv6).
    public func start(listen: String) async throws(STSError) -> Channel {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw STSError(.invalidInput, "metrics.listen must be HOST:PORT, not \(listen)")
        }
        let host = String(listen[..<colon]).trimming("[]")
        let registry = self.registry
        let gate = self.gate
        let idleTimeout = self.idleTimeout
        do {
            let address = try SocketAddress(ipAddress: host, port: port)
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    guard gate.admit(channel) else { return channel.close() }
                    return channel.eventLoop.makeCompletedFuture {
                        if let idleTimeout { try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout)) }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(ScrapeHandler(registry: registry))
                    }
                }
                .bind(to: address).get()
        } catch {
            throw STSError(.internalError, "cannot listen for metrics on \(listen): \(error)")
        }
    }
}

final class ScrapeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var path = ""

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.method == .GET ? head.uri : ""
        case .body:
            break
        case .end:
            var body: [UInt8] = []
            let status: HTTPResponseStatus
            if path == "/metrics" {
                registry.emit(into: &body)
                status = .ok
            } else {
                body = Array("not found: try /metrics\n".utf8)
                status = .notFound
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Content-Length", value: String(body.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

