import NIOCore
import STSCore

/// One socketmap connection: netstrings in, one reply per request, in request order.
///
/// Requests are answered concurrently but written in the order they came, as Postfix expects. A
/// malformed netstring closes the connection once the replies already due are written; nothing else
/// on the server is affected. A request that is a well-formed netstring but not `NAME KEY` gets a
/// `PERM` reply and the connection goes on. With an idle timeout, a connection that completes no
/// request for that long while none of its replies is pending is closed; bytes of an unfinished
/// request do not count, so a client cannot hold a connection by trickling one.
public final class SocketmapHandler: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let responder: SocketmapResponder
    private let maxPending: Int
    private var decoder: NetstringDecoder
    /// Completes when every reply that had to wait so far has been handed to the channel; the next such
    /// reply is chained after it. A reply ready at once with nothing before it pending is handed over
    /// on the spot and leaves no future behind: the channel writes in the order it is given.
    private var tail: EventLoopFuture<Void>?
    private var pending = 0
    private var closing = false
    private let idleTimeout: TimeAmount?
    private var idleTimer: Scheduled<Void>?
    /// When the last whole request came in. The idle timer is not moved on each request (a timer
    /// rescheduled per request cost a busy daemon a seventh of its time); when it fires, it looks here.
    private var lastRequest = NIODeadline.now()

    public init(responder: SocketmapResponder, maxRequestBytes: Int = 16_384, maxPending: Int = 64, idleTimeout: TimeAmount? = nil) {
        self.responder = responder
        self.maxPending = maxPending
        self.idleTimeout = idleTimeout
        self.decoder = NetstringDecoder(maxPayload: maxRequestBytes)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        lastRequest = .now()
        if let idleTimeout { armIdleTimer(at: lastRequest + idleTimeout, context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        context.fireChannelInactive()
    }

    /// The idle check, due at `deadline`. A connection is idle when no whole request came for
    /// `idleTimeout` and none of its replies is pending (a client waiting for a slow answer is not
    /// idle); otherwise the check is put off to the earliest time the connection could be idle.
    private func armIdleTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.idleCheck(context: context)
        }
    }

    private func idleCheck(context: ChannelHandlerContext) {
        guard !closing, let idleTimeout else { return }
        let now = NIODeadline.now()
        if pending > 0 {
            armIdleTimer(at: now + idleTimeout, context: context)
        } else if lastRequest + idleTimeout > now {
            armIdleTimer(at: lastRequest + idleTimeout, context: context)
        } else {
            closing = true
            context.close(promise: nil)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { decoder.append($0) }
        while true {
            let payload: [UInt8]?
            do {
                payload = try decoder.next()
            } catch {
                closeAfterPendingReplies(context: context)
                return
            }
            guard let payload else { return }
            if idleTimeout != nil { lastRequest = .now() }
            guard pending < maxPending else {
                // A client that floods requests without reading replies is not Postfix.
                closeAfterPendingReplies(context: context)
                return
            }
            answer(payload, context: context)
        }
    }

    private func answer(_ payload: [UInt8], context: ChannelHandlerContext) {
        let eventLoop = context.eventLoop
        let request = SocketmapRequest(payload: payload)
        let immediate: SocketmapReply? = request.map { responder.respondImmediately(to: $0) } ?? .perm("malformed request: expected \"name key\"")
        if let immediate, pending == 0 {
            guard context.channel.isWritable else {
                // The client sends requests and does not read the replies (they fill the socket and
                // then our buffer): not Postfix. Bounded memory matters more than its answers.
                closeAfterPendingReplies(context: context)
                return
            }
            // Answered on this event loop with no earlier reply still due: written at once, without a
            // task, a thread hop or the chain that keeps replies in order.
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.netstring(immediate)), promise: nil)
            tail = nil
            return
        }
        let promise = eventLoop.makePromise(of: SocketmapReply.self)
        if let immediate {
            promise.succeed(immediate)
        } else if let request {
            let responder = self.responder
            promise.completeWithTask { await responder.respond(to: request) }
        }
        pending += 1
        let previous = tail ?? eventLoop.makeSucceededVoidFuture()
        let channel = context.channel
        tail = previous.flatMap { promise.futureResult }.flatMap { [weak self] reply -> EventLoopFuture<Void> in
            self?.pending -= 1
            return channel.writeAndFlush(channel.allocator.netstring(reply))
        }
    }

    /// Graceful shutdown: no new requests; the connection closes once the replies due are written.
    /// Must run on the channel's event loop.
    public func drain(context: ChannelHandlerContext) {
        guard !closing else { return }
        closeAfterPendingReplies(context: context)
    }

    private func closeAfterPendingReplies(context: ChannelHandlerContext) {
        closing = true
        let channel = context.channel
        let previous = tail ?? context.eventLoop.makeSucceededVoidFuture()
        previous.whenComplete { _ in
            // An empty write completes after every write handed over before it: then all replies are out.
            channel.writeAndFlush(ByteBuffer()).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

extension ByteBufferAllocator {
    /// The reply as a netstring, encoded straight into a buffer of its exact size.
    func netstring(_ reply: SocketmapReply) -> ByteBuffer {
        let (word, text) = reply.parts
        let count = NetstringEncoder.encodedCount(word, text)
        var out = buffer(capacity: count)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { NetstringEncoder.encode(word, text, into: $0) }
        return out
    }
}
