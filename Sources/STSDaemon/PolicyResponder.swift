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
    public let decisions: DecisionLog

    public init(config: ConfigHolder, service: PolicyService, logger: Logger, decisions: DecisionLog) {
        self.config = config
        self.service = service
        self.logger = logger
        self.decisions = decisions
    }

    public func respond(to request: SocketmapRequest) async -> SocketmapReply {
        let started = MonotonicTime.nanoseconds()
        let zone = config.zone(named: request.name)
        switch PolicyKey.resolve(request.key) {
        case .noPolicy(let why):
            return noLookup(request, why: why, since: started)
        case .domain(let domain):
            return report(request, domain: domain, await service.decide(domain: domain, zone: zone), since: started)
        }
    }

    /// Keys that need no lookup, and domains whose answer is in memory, are answered on the spot.
    public func respondImmediately(to request: SocketmapRequest) -> SocketmapReply? {
        let started = MonotonicTime.nanoseconds()
        let zone = config.zone(named: request.name)
        switch PolicyKey.resolve(request.key) {
        case .noPolicy(let why):
            return noLookup(request, why: why, since: started)
        case .domain(let domain):
            guard let decision = service.decideFromMemory(domain: domain, zone: zone) else { return nil }
            return report(request, domain: domain, decision, since: started)
        }
    }

    private func noLookup(_ request: SocketmapRequest, why: String, since started: UInt64) -> SocketmapReply {
        logger.debug("no lookup", metadata: ["zone": "\(request.name)", "key": "\(request.key)", "why": "\(why)"])
        DaemonMetrics.lookup(answer: "notfound", from: "none", nanoseconds: MonotonicTime.nanoseconds() &- started)
        return .notFound
    }

    /// The decision's log line and metrics; its reply.
    private func report(_ request: SocketmapRequest, domain: String, _ decision: PolicyService.Decision, since started: UInt64) -> SocketmapReply {
        let elapsed = MonotonicTime.nanoseconds() &- started
        decisions.write(zone: request.name, domain: domain, answer: decision.reply, why: decision.reason, from: decision.source,
                        milliseconds: Int(elapsed / 1_000_000))
        DaemonMetrics.lookup(answer: decision.reply.kind, from: decision.source, nanoseconds: elapsed)
        return decision.reply
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
