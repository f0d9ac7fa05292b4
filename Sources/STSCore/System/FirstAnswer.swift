import Synchronization

/// A continuation that whichever answer comes first resumes; later answers are dropped. For waits that
/// race work against a timer or a delay, where each side may try to answer.
public final class FirstAnswer<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)

    private init() {}

    /// Waits for the first answer; `start` sets off whatever will give it.
    public static func wait(_ start: (FirstAnswer<T>) -> Void) async -> T {
        let first = FirstAnswer<T>()
        return await withCheckedContinuation { continuation in
            first.continuation.withLock { $0 = continuation }
            start(first)
        }
    }

    public func resume(returning value: T) {
        continuation.withLock { $0.take() }?.resume(returning: value)
    }
}
