import Logging
import STSCore

/// The one log line per decision, at `info`: `decision answer=... domain=... from=... ms=... why=...
/// zone=...`. Written straight to the log sink, in the same format and field order as every other
/// line (`LogLine`), without going through swift-log: a Logger's metadata is a dictionary built, merged
/// and sorted for every line, which cost a cached lookup a third of its time.
public struct DecisionLog: Sendable {
    private let sink: LineLogHandler.Sink
    private let format: LineLogHandler.Format
    private let label: String
    /// Whether decision lines are written at all (the log level is `info` or lower).
    public let isEnabled: Bool

    public init(sink: LineLogHandler.Sink, format: LineLogHandler.Format, label: String, level: Logger.Level) {
        self.sink = sink
        self.format = format
        self.label = label
        self.isEnabled = level <= .info
    }

    /// The fields in their sorted order, as `LineLogHandler` writes metadata.
    public func write(zone: String, domain: String, answer: SocketmapReply, why: String, from: String, milliseconds: Int) {
        guard isEnabled else { return }
        var line = LogLine(format: format, level: .info, label: label, message: "decision")
        let (word, text) = answer.parts
        line.add("answer", word, text)
        line.add("domain", domain)
        line.add("from", from)
        line.add("ms", milliseconds)
        line.add("why", why)
        line.add("zone", zone)
        sink.write(bytes: line.finished())
    }
}
