import Dispatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

import STSCore

/// Log lines to a file descriptor (stderr, or the `-l` file): `time level label: message key=value ...`,
/// or one JSON object per line (`{"time":...,"level":...,"message":...,"key":"value"}`) for log shippers;
/// see `LogLine`.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    /// Shared by every logger writing to the same place, so lines never interleave. Lines are gathered
    /// and written in batches (at 32 KiB, after 100 ms, at a warning or worse, and on `flush`): one
    /// write per lookup would cost a busy daemon a fifth of its time. Batches are written by the sink's
    /// own thread, outside the lock that lines are added under, so no lookup waits for the log; a second
    /// lock keeps the batches in order.
    ///
    /// A log that cannot keep up (a slow or stuck disk, a stalled journald reading stderr) must not stop
    /// mail: past a bound, lines are dropped and counted, and once the writer gets through again a
    /// warning says how many (`log lines dropped count=N`, and `sts_log_lines_dropped_total`).
    public final class Sink: Sendable {
        private struct State {
            var fd: Int32
            var buffer: [UInt8] = []
            var spare: [UInt8] = []
            var flushScheduled = false
            var drainQueued = false
            var clock = LogClock()
            /// Lines dropped since the last batch was taken, because the writer was that far behind.
            var dropped = 0
        }
        private let state: Mutex<State>
        /// Held while a batch is written (taken before `state`, never the other way round).
        private let writing = Mutex<Void>(())
        private let flusher = DispatchQueue(label: "sts-log-flush")
        /// Gathered bytes written in one go.
        public static let batchBytes = 32 << 10
        /// Gathered past this, the writer is behind: further lines are dropped, so the log's memory
        /// stays bounded. Warnings and worse have twice the room, so that those explaining a stall are kept.
        static let maxGatheredBytes = 8 * batchBytes
        /// The format and label of the sink's own warning about dropped lines.
        private let format: Format
        private let label: String

        public init(fd: Int32, format: Format = .text, label: String = "sts") {
            self.state = Mutex(State(fd: fd))
            self.format = format
            self.label = label
        }

        public func write(_ line: String, urgent: Bool = false) {
            write(bytes: Array(line.utf8), urgent: urgent)
        }

        /// One line, without its line feed.
        public func write(bytes line: [UInt8], urgent: Bool = false) {
            gather(urgent: urgent) { state in
                state.buffer.append(contentsOf: line)
                state.buffer.append(0x0A)
            }
        }

        /// One line built in place at the end of the batch, stamped with the time it is added at:
        /// no buffer of its own, no copy.
        func write(format: Format, head: LogLine.Head, urgent: Bool = false, fields: (inout LogLine) -> Void) {
            gather(urgent: urgent) { state in
                let time = state.clock.now()
                LogLine.append(to: &state.buffer, format: format, time: time, head: head, fields: fields)
            }
        }

        /// Adds to the batch with `add`, then has it written when it is due, by the sink's thread: the
        /// caller is an event loop with fifty clients waiting behind it, and never writes itself.
        private func gather(urgent: Bool, _ add: (inout State) -> Void) {
            enum Next { case nothing, flushLater, drainSoon }
            let next = state.withLock { state -> Next in
                if state.buffer.count >= (urgent ? 2 * Self.maxGatheredBytes : Self.maxGatheredBytes) {
                    state.dropped += 1
                } else {
                    add(&state)
                }
                if urgent || state.buffer.count >= Self.batchBytes {
                    guard !state.drainQueued else { return .nothing }
                    state.drainQueued = true
                    return .drainSoon
                }
                guard !state.flushScheduled else { return .nothing }
                state.flushScheduled = true
                return .flushLater
            }
            switch next {
            case .nothing: break
            case .drainSoon:
                flusher.async { [self] in
                    state.withLock { $0.drainQueued = false }
                    drain()
                }
            case .flushLater:
                flusher.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in flush() }
            }
        }

        /// Lines dropped so far (see the type's comment).
        public var droppedLines: Int { droppedTotal.withLock { $0 } }
        private let droppedTotal = Mutex(0)

        /// Writes whatever is gathered.
        public func flush() {
            state.withLock { $0.flushScheduled = false }
            drain()
        }

        /// Takes the gathered batch and writes it; lines added meanwhile go into the spare buffer.
        private func drain() {
            writing.withLock { _ in writeBatch() }
        }

        /// Points the sink at another descriptor (log rotation reopens the file), after writing what
        /// was gathered for the old one.
        public func replace(with newFD: Int32) {
            let old = writing.withLock { _ -> Int32 in
                writeBatch()
                return state.withLock { state in
                    defer { state.fd = newFD }
                    return state.fd
                }
            }
            if old > 2 { close(old) }
        }

        /// The batch gathered so far, written to the current descriptor, and after it the count of the
        /// lines dropped since the last batch. Only with `writing` held.
        private func writeBatch() {
            let fd: Int32
            var batch: [UInt8]
            let dropped: Int
            let time: [UInt8]
            (fd, batch, dropped, time) = state.withLock { state -> (Int32, [UInt8], Int, [UInt8]) in
                let batch = state.buffer
                state.buffer = state.spare
                state.spare = []
                defer { state.dropped = 0 }
                return (state.fd, batch, state.dropped, state.dropped > 0 ? state.clock.now() : [])
            }
            if dropped > 0 {
                droppedTotal.withLock { $0 += dropped }
                DaemonMetrics.logLinesDropped(dropped)
                let head = LogLine.Head(format: format, level: .warning, label: label, message: "log lines dropped")
                LogLine.append(to: &batch, format: format, time: time, head: head) { line in
                    line.add(LogLine.Name("count", format: format), dropped)
                    line.add(LogLine.Name("why", format: format), "the log was written more slowly than lines came")
                }
            }
            guard !batch.isEmpty else { return }
            // A log that cannot be written (full disk) must not stop lookups: the batch is dropped.
            _ = FileDescriptorWriter.writeAll(fd, batch)
            batch.removeAll(keepingCapacity: true)
            state.withLock { state in
                if state.spare.isEmpty { state.spare = batch }
            }
        }
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink: Sink
    private let format: Format

    public init(label: String, sink: Sink, level: Logger.Level, format: Format = .text) {
        self.label = label
        self.sink = sink
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.isEmpty ? (event.metadata ?? [:]) : metadata.merging(event.metadata ?? [:]) { $1 }
        let head = LogLine.Head(format: format, level: event.level, label: label, message: event.message.description)
        let format = format
        // Values are rendered before the sink's lock is taken: a value's description is arbitrary code.
        let fields = all.sorted(by: { $0.key < $1.key }).map { key, value in
            (LogLine.Name(key, format: format), { if case .string(let string) = value { return string } else { return "\(value)" } }())
        }
        sink.write(format: format, head: head, urgent: event.level >= .warning) { line in
            for (name, value) in fields { line.add(name, value) }
        }
    }
}
