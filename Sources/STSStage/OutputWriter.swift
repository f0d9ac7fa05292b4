#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import STSCore
import Synchronization

/// Writes finished records as lines to a file descriptor, each one whole and at once.
///
/// Unordered, a record is written the moment it is handed in. Ordered, it waits until every record
/// before it (by input sequence number) has been written. `onWritten` is called once per record
/// written, which the runner uses to give back a concurrency permit.
public final class OutputWriter: Sendable {
    /// What a write that fails does.
    public enum OnFailure: Sendable {
        /// Exit the process: 0 if the reader went away (EPIPE), 1 otherwise. What a stage does.
        case exit
        /// Write nothing more and tell the caller (`emit` returns false, `failure` says why): for a
        /// program writing to its own children, whose death means something it must report itself.
        case report
    }

    /// Why the descriptor stopped taking lines.
    public struct Failure: Error, Sendable, Equatable {
        /// The `errno` of the failed write.
        public let code: Int32
        /// The reader went away (EPIPE): the normal end of a pipeline whose downstream has had enough.
        public var readerGone: Bool { code == EPIPE }
        public var message: String { String(cString: strerror(code)) }
    }

    private struct State {
        var nextSequence = 0
        var waiting: [Int: [UInt8]] = [:]
        var failure: Failure?
    }

    private let fd: Int32
    private let ordered: Bool
    private let onFailure: OnFailure
    private let onWritten: @Sendable () -> Void
    private let state = Mutex(State())

    public init(fd: Int32, ordered: Bool, onFailure: OnFailure = .exit, onWritten: @escaping @Sendable () -> Void = {}) {
        self.fd = fd
        self.ordered = ordered
        self.onFailure = onFailure
        self.onWritten = onWritten
    }

    /// Set once a write failed (only with `.report`; with `.exit` the process is gone by then).
    public var failure: Failure? { state.withLock { $0.failure } }

    /// Hands in the line (without newline) for input record number `sequence`. False once a write
    /// failed (`.report` only): this line and every later one are dropped.
    @discardableResult
    public func emit(sequence: Int, line: [UInt8]) -> Bool {
        var line = line
        line.append(0x0A)
        let (written, ok) = state.withLock { state -> (Int, Bool) in
            guard state.failure == nil else { return (0, false) }
            guard ordered else {
                return writeAll(line, &state) ? (1, true) : (0, false)
            }
            state.waiting[sequence] = line
            var count = 0
            while let next = state.waiting.removeValue(forKey: state.nextSequence) {
                guard writeAll(next, &state) else {
                    state.waiting.removeAll()
                    return (count, false)
                }
                state.nextSequence += 1
                count += 1
            }
            return (count, true)
        }
        for _ in 0..<written { onWritten() }
        return ok
    }

    private func writeAll(_ bytes: [UInt8], _ state: inout State) -> Bool {
        if FileDescriptorWriter.writeAll(fd, bytes) { return true }
        let failure = Failure(code: errno)
        switch onFailure {
        case .exit:
            // The reader went away (EPIPE with SIGPIPE ignored) or the disk is full: nothing more can
            // be delivered, and losing records silently would be worse than stopping.
            exit(failure.readerGone ? 0 : 1)
        case .report:
            state.failure = failure
            return false
        }
    }
}
