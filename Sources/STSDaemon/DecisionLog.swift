import Logging
import STSCore

/// The one log line per decision, at `info`: `decision answer=... domain=... from=... ms=... why=...
/// zone=...`. Written straight to the log sink, in the same format and field order as every other
/// line (`LogLine`), without going through swift-log: a Logger's metadata is a dictionary built, merged
/// and sorted for every line, which cost a cached lookup a third of its time. The parts every line
/// shares (level, label, message, field names) are rendered once, here.
public struct DecisionLog: Sendable {
    private let sink: LineLogHandler.Sink
    private let format: LineLogHandler.Format
    private let head: LogLine.Head
    private let names: Names
    /// Whether decision lines are written at all (the log level is `info` or lower).
    public let isEnabled: Bool

    /// The fields in their sorted order, as `LineLogHandler` writes metadata.
    private struct Names {
        let answer, domain, from, ms, why, zone: LogLine.Name

        init(format: LineLogHandler.Format) {
            answer = LogLine.Name("answer", format: format)
            domain = LogLine.Name("domain", format: format)
            from = LogLine.Name("from", format: format)
            ms = LogLine.Name("ms", format: format)
            why = LogLine.Name("why", format: format)
            zone = LogLine.Name("zone", format: format)
        }
    }

    public init(sink: LineLogHandler.Sink, format: LineLogHandler.Format, label: String, level: Logger.Level) {
        self.sink = sink
        self.format = format
        self.head = LogLine.Head(format: format, level: .info, label: label, message: "decision")
        self.names = Names(format: format)
        self.isEnabled = level <= .info
    }

    public func write(zone: String, domain: String, answer: SocketmapReply, why: String, from: String, milliseconds: Int) {
        guard isEnabled else { return }
        let (word, text) = answer.parts
        sink.write(format: format, head: head) { [names] line in
            line.add(names.answer, word, text)
            line.add(names.domain, domain)
            line.add(names.from, from)
            line.add(names.ms, milliseconds)
            line.add(names.why, why)
            line.add(names.zone, zone)
        }
    }
}
