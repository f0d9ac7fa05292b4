import Dispatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

import STSCore

/// Log lines to a file descriptor (stderr, or the `-l` file): `time level label: message key=value ...`,
/// or one JSON object per line (`{"time":...,"level":...,"message":...,"key":"value"}`) for log shippers.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    /// Shared by every logger writing to the same place, so lines never interleave. Lines are gathered
    /// and written in batches (at 32 KiB, after 100 ms, at a warning or worse, and on `flush`): one
    /// write per lookup would cost a busy daemon a fifth of its time. The write itself happens outside
    /// the lock that lines are added under, so no lookup waits for the disk; a second lock keeps the
    /// batches in order.
    public final class Sink: Sendable {
        private struct State {
            var fd: Int32
            var buffer: [UInt8] = []
            var spare: [UInt8] = []
            var flushScheduled = false
        }
        private let state: Mutex<State>
        /// Held while a batch is written (taken before `state`, never the other way round).
        private let writing = Mutex<Void>(())
        private let flusher = DispatchQueue(label: "sts-log-flush")
        static let batchBytes = 32 << 10

        public init(fd: Int32) { self.state = Mutex(State(fd: fd)) }

        public func write(_ line: String, urgent: Bool = false) {
            write(bytes: Array(line.utf8), urgent: urgent)
        }

        /// One line, without its line feed.
        public func write(bytes line: [UInt8], urgent: Bool = false) {
            let (full, scheduleFlush) = state.withLock { state -> (Bool, Bool) in
                state.buffer.append(contentsOf: line)
                state.buffer.append(0x0A)
                if urgent || state.buffer.count >= Self.batchBytes { return (true, false) }
                guard !state.flushScheduled else { return (false, false) }
                state.flushScheduled = true
                return (false, true)
            }
            if full { drain() }
            if scheduleFlush {
                flusher.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in flush() }
            }
        }

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

        /// The batch gathered so far, written to the current descriptor. Only with `writing` held.
        private func writeBatch() {
            let fd: Int32
            var batch: [UInt8]
            (fd, batch) = state.withLock { state -> (Int32, [UInt8]) in
                let batch = state.buffer
                state.buffer = state.spare
                state.spare = []
                return (state.fd, batch)
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
        if format == .json {
            var object: JSONObject = ["time": .string(LogTimestamp.now()), "level": .string("\(event.level)"),
                                      "logger": .string(label), "message": .string("\(event.message)")]
            for (key, value) in all.sorted(by: { $0.key < $1.key }) where object[key] == nil { object[key] = .string("\(value)") }
            sink.write(JSONWriter.string(.object(object)), urgent: event.level >= .warning)
            return
        }
        // Built as bytes in one buffer: a busy daemon writes one of these lines per lookup.
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(contentsOf: LogTimestamp.now().utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: event.level.rawValue.utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: label.utf8)
        line.append(contentsOf: ": ".utf8)
        line.append(contentsOf: event.message.description.utf8)
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: " "))
            line.append(contentsOf: key.utf8)
            line.append(UInt8(ascii: "="))
            Self.appendValue(value, to: &line)
        }
        sink.write(bytes: line, urgent: event.level >= .warning)
    }

    /// A metadata value, quoted when it holds anything that would make the line ambiguous.
    static func appendValue(_ value: Logger.MetadataValue, to line: inout [UInt8]) {
        var text: String
        if case .string(let string) = value { text = string } else { text = "\(value)" }
        text.withUTF8 { bytes in
            if bytes.contains(where: needsQuotes) {
                appendQuoted(bytes, to: &line)
            } else {
                line.append(contentsOf: bytes)
            }
        }
    }

    static func needsQuotes(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\\")
    }

    /// Appends `bytes` in double quotes, with quotes, backslashes and control characters escaped, so
    /// that one log line stays one line whatever a domain or a policy holds.
    static func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Runs of plain bytes are copied whole; only the bytes that need it are escaped.
        var runStart = 0
        for index in bytes.indices {
            let byte = bytes[index]
            let escape: String
            switch byte {
            case UInt8(ascii: "\""): escape = "\\\""
            case UInt8(ascii: "\\"): escape = "\\\\"
            case UInt8(ascii: "\n"): escape = "\\n"
            case UInt8(ascii: "\r"): escape = "\\r"
            case UInt8(ascii: "\t"): escape = "\\t"
            case _ where byte < 0x20 || byte == 0x7F: escape = "\\u{\(String(byte, radix: 16))}"
            default: continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            out.append(contentsOf: escape.utf8)
            runStart = index + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        out.append(UInt8(ascii: "\""))
    }
}

/// The time for log lines, `2026-11-25T09:37:05Z`, formatted once per second.
enum LogTimestamp {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        let second = Int(UnixTime.now())
        if let text = cache.withLock({ $0.second == second ? $0.text : nil }) { return text }
        var seconds = second
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
        cache.withLock { $0 = (second, text) }
        return text
    }
}
