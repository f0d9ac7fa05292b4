import STSCore

/// What answers socketmap requests. The server knows only this; the policy logic lives behind it.
public protocol SocketmapResponder: Sendable {
    func respond(to request: SocketmapRequest) async -> SocketmapReply
}
