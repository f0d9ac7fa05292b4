import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import STSCore

/// A Prometheus scrape endpoint on its own listener: `GET /metrics` in the text exposition format.
public final class MetricsServer: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let group: MultiThreadedEventLoopGroup

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// `listen` is `HOST:PORT` (`[::1]:9461` for IPv6).
    public func start(listen: String) async throws(STSError) -> Channel {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw STSError(.invalidInput, "metrics.listen must be HOST:PORT, not \(listen)")
        }
        let host = String(listen[..<colon]).trimming("[]")
        let registry = self.registry
        do {
            let address = try SocketAddress(ipAddress: host, port: port)
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(ScrapeHandler(registry: registry))
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

