import STSCache
import STSCore
import Synchronization

/// The MTA-STS decisions last rendered, by domain, so that a lookup answered from memory does not
/// render the same policy into the same answer again (rendering was a tenth of a hot lookup's work).
///
/// A memo is used only for the very entry and zone options it was made from (compared whole, which
/// is cheap when they share storage, as a cached entry does with itself), so a new policy, a failed
/// fetch or another zone's options are never answered from an old memo. Bounded: when full it is
/// emptied and fills again with the domains looked up since.
public final class AnswerMemo: Sendable {
    public struct Answer: Sendable, Equatable {
        public var reply: SocketmapReply
        public var reason: String

        public init(reply: SocketmapReply, reason: String) {
            self.reply = reply
            self.reason = reason
        }
    }

    private struct Memo {
        var entry: CacheEntry
        var options: ZoneOptions
        var answer: Answer
    }

    public let capacity: Int
    private let memos = Mutex<[String: Memo]>([:])

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The answer for `entry` under `options`, rendered by `render` unless the memo has it.
    public func answer(for entry: CacheEntry, options: ZoneOptions, render: () -> Answer) -> Answer {
        if let known = memos.withLock({ memos -> Answer? in
            guard let memo = memos[entry.domain], memo.options == options, memo.entry == entry else { return nil }
            return memo.answer
        }) {
            return known
        }
        let answer = render()
        memos.withLock { memos in
            if memos.count >= capacity { memos.removeAll(keepingCapacity: true) }
            memos[entry.domain] = Memo(entry: entry, options: options, answer: answer)
        }
        return answer
    }

    public var count: Int { memos.withLock { $0.count } }
}
