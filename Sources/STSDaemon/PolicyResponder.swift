import Logging
import STSConfig
import STSCore
import STSSocketmap

/// Postfix's socketmap requests to policy decisions: the key to a policy domain, the map name to a
/// zone, and one log line per decision.
public struct PolicyResponder: SocketmapResponder {
    public let config: ConfigHolder
    public let service: PolicyService
    public let logger: Logger

    public init(config: ConfigHolder, service: PolicyService, logger: Logger) {
        self.config = config
        self.service = service
        self.logger = logger
    }

    public func respond(to request: SocketmapRequest) async -> SocketmapReply {
        let started = ContinuousClock.now
        let zone = config.config.zone(named: request.name)
        switch PolicyKey.resolve(request.key) {
        case .noPolicy(let why):
            logger.debug("no lookup", metadata: ["zone": "\(request.name)", "key": "\(request.key)", "why": "\(why)"])
            DaemonMetrics.lookup(answer: "notfound", from: "none", seconds: (ContinuousClock.now - started).seconds)
            return .notFound
        case .domain(let domain):
            let decision = await service.decide(domain: domain, zone: zone)
            let elapsed = ContinuousClock.now - started
            logger.info("decision", metadata: [
                "zone": "\(request.name)", "domain": "\(domain)", "answer": "\(decision.reply.payload)",
                "why": "\(decision.reason)", "from": "\(decision.source)",
                "ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ])
            DaemonMetrics.lookup(answer: decision.reply.kind, from: decision.source, seconds: elapsed.seconds)
            return decision.reply
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension SocketmapReply {
    /// The reply's kind, for metrics: ok, notfound, temp, timeout, perm.
    var kind: String {
        switch self {
        case .ok: "ok"
        case .notFound: "notfound"
        case .temp: "temp"
        case .timeout: "timeout"
        case .perm: "perm"
        }
    }
}
