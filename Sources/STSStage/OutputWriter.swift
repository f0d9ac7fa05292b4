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
    private struct State {
        var nextSequence = 0
        var waiting: [Int: [UInt8]] = [:]
    }

    private let fd: Int32
    private let ordered: Bool
    private let onWritten: @Sendable () -> Void
    private let state = Mutex(State())

    public init(fd: Int32, ordered: Bool, onWritten: @escaping @Sendable () -> Void = {}) {
        self.fd = fd
        self.ordered = ordered
        self.onWritten = onWritten
    }

    /// Hands in the line (without newline) for input record number `sequence`.
    public func emit(sequence: Int, line: [UInt8]) {
        var line = line
        line.append(0x0A)
        let written = state.withLock { state -> Int in
            guard ordered else {
                writeAll(line)
                return 1
            }
            state.waiting[sequence] = line
            var count = 0
            while let next = state.waiting.removeValue(forKey: state.nextSequence) {
                writeAll(next)
                state.nextSequence += 1
                count += 1
            }
            return count
        }
        for _ in 0..<written { onWritten() }
    }

    private func writeAll(_ bytes: [UInt8]) {
        // The reader went away (EPIPE with SIGPIPE ignored) or the disk is full: nothing more can be
        // delivered, and losing records silently would be worse than stopping.
        if !FileDescriptorWriter.writeAll(fd, bytes) { exit(errno == EPIPE ? 0 : 1) }
    }
}
