import STSCore

/// What answers socketmap requests. The server knows only this; the policy logic lives behind it.
public protocol SocketmapResponder: Sendable {
    func respond(to request: SocketmapRequest) async -> SocketmapReply

    /// The reply, when it can be given at once without waiting for anything (an answer already in
    /// memory); nil sends the request down the asynchronous path. Called on the connection's event
    /// loop, so it must not block.
    func respondImmediately(to request: SocketmapRequest) -> SocketmapReply?
}

extension SocketmapResponder {
    public func respondImmediately(to request: SocketmapRequest) -> SocketmapReply? { nil }
}
