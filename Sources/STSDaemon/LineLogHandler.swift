import Foundation
import Logging
import Synchronization

import STSCore

/// Log lines to a file descriptor (stderr, or the `-l` file): `time level label: message key=value ...`,
/// or one JSON object per line (`{"time":...,"level":...,"message":...,"key":"value"}`) for log shippers.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    /// Shared by every logger writing to the same place, so lines never interleave.
    public final class Sink: Sendable {
        private let fd: Mutex<Int32>
        public init(fd: Int32) { self.fd = Mutex(fd) }

        public func write(_ line: String) {
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            fd.withLock { fd in
                _ = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            }
        }

        /// Points the sink at another descriptor (log rotation reopens the file).
        public func replace(with newFD: Int32) {
            let old = fd.withLock { fd in
                defer { fd = newFD }
                return fd
            }
            if old > 2 { close(old) }
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
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        if format == .json {
            var object: JSONObject = ["time": .string(Date().formatted(.iso8601)), "level": .string("\(event.level)"),
                                      "logger": .string(label), "message": .string("\(event.message)")]
            for (key, value) in all.sorted(by: { $0.key < $1.key }) where object[key] == nil { object[key] = .string("\(value)") }
            sink.write(JSONWriter.string(.object(object)))
            return
        }
        var line = "\(Date().formatted(.iso8601)) \(event.level) \(label): \(event.message)"
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            let text = "\(value)"
            line += text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? " \(key)=\(text.debugDescription)" : " \(key)=\(text)"
        }
        sink.write(line)
    }
}
