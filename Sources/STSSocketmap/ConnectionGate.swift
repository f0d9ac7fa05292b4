import NIOConcurrencyHelpers
import NIOCore

/// Admission for a listener: at most `limit` connections open at once (0: no limit). A connection past
/// the limit is closed as soon as it is accepted, which tells the client at once (Postfix defers and
/// retries) instead of leaving it in the backlog until its own timeout, and keeps a flood of
/// connections from taking the descriptors that the other listeners and the stages need.
public final class ConnectionGate: Sendable {
    public let limit: Int
    private let open = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
    private let refused = NIOLockedValueBox(0)
    private let onRefused: (@Sendable (Int) -> Void)?

    /// `onRefused` is called with the running count each time a connection over the limit is closed.
    public init(limit: Int, onRefused: (@Sendable (Int) -> Void)? = nil) {
        self.limit = limit
        self.onRefused = onRefused
    }

    /// Counts `channel` in until it closes; false (and counted as refused) if `limit` are open, and
    /// then the caller closes it.
    public func admit(_ channel: Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let admitted = open.withLockedValue { open -> Bool in
            guard limit <= 0 || open.count < limit else { return false }
            open[key] = channel
            return true
        }
        guard admitted else {
            let count = refused.withLockedValue { $0 += 1; return $0 }
            onRefused?(count)
            return false
        }
        channel.closeFuture.whenComplete { [open] _ in _ = open.withLockedValue { $0.removeValue(forKey: key) } }
        return true
    }

    /// The connections open now.
    public var channels: [Channel] { open.withLockedValue { Array($0.values) } }

    public var count: Int { open.withLockedValue { $0.count } }

    /// Connections closed so far because `limit` were open.
    public var refusedCount: Int { refused.withLockedValue { $0 } }
}
