import Logging
import STSCore

/// One log line, as text (`time level label: message key=value ...`) or as one JSON object
/// (`{"time":...,"level":...,"logger":...,"message":...,"key":"value"}`): the one formatter behind the
/// swift-log handler and the decision log. A line is built in place at the end of the log sink's batch
/// (`LineLogHandler.Sink.write(format:head:fields:)`), with no buffer of its own: a busy daemon writes
/// one of these per lookup.
struct LogLine {
    /// The batch, ending with the line so far.
    fileprivate(set) var bytes: [UInt8]
    let format: LineLogHandler.Format

    /// The keys a JSON line has of its own; a field of the same name is left out of it.
    static let ownJSONKeys: Set<String> = ["time", "level", "logger", "message"]

    /// What follows the time: ` level label: message`, or the JSON members `,"level":...,"message":...`.
    /// Rendered once by a writer whose lines all share it (the decision log).
    struct Head {
        let bytes: [UInt8]

        init(format: LineLogHandler.Format, level: Logger.Level, label: String, message: String) {
            var bytes: [UInt8] = []
            switch format {
            case .text:
                bytes.append(UInt8(ascii: " "))
                bytes.append(contentsOf: level.rawValue.utf8)
                bytes.append(UInt8(ascii: " "))
                bytes.append(contentsOf: label.utf8)
                bytes.append(contentsOf: ": ".utf8)
                bytes.append(contentsOf: message.utf8)
            case .json:
                bytes.append(contentsOf: #","level":"#.utf8)
                JSONWriter.writeString(level.rawValue, into: &bytes)
                bytes.append(contentsOf: #","logger":"#.utf8)
                JSONWriter.writeString(label, into: &bytes)
                bytes.append(contentsOf: #","message":"#.utf8)
                JSONWriter.writeString(message, into: &bytes)
            }
            self.bytes = bytes
        }
    }

    /// A field's name as it goes before its value: ` name=` in text, `,"name":` in JSON. Keys are ours,
    /// never from the network.
    struct Name {
        let bytes: [UInt8]
        /// One of a JSON line's own keys: the field is left out, so metadata cannot forge `level`.
        let isOwn: Bool

        init(_ name: String, format: LineLogHandler.Format) {
            var bytes: [UInt8] = []
            switch format {
            case .text:
                bytes.append(UInt8(ascii: " "))
                bytes.append(contentsOf: name.utf8)
                bytes.append(UInt8(ascii: "="))
                isOwn = false
            case .json:
                bytes.append(UInt8(ascii: ","))
                JSONWriter.writeString(name, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                isOwn = LogLine.ownJSONKeys.contains(name)
            }
            self.bytes = bytes
        }
    }

    /// Appends one line and its line feed to `batch`, in place: `time`, `head`, then what `fields` adds.
    static func append(to batch: inout [UInt8], format: LineLogHandler.Format, time: [UInt8], head: Head,
                       fields: (inout LogLine) -> Void) {
        var line = LogLine(bytes: [], format: format)
        swap(&line.bytes, &batch)
        switch format {
        case .text:
            line.bytes.append(contentsOf: time)
        case .json:
            // The time is digits, `-`, `:`, `T` and `Z`: nothing in it needs escaping.
            line.bytes.append(contentsOf: #"{"time":""#.utf8)
            line.bytes.append(contentsOf: time)
            line.bytes.append(UInt8(ascii: "\""))
        }
        line.bytes.append(contentsOf: head.bytes)
        fields(&line)
        if format == .json { line.bytes.append(UInt8(ascii: "}")) }
        line.bytes.append(0x0A)
        swap(&line.bytes, &batch)
    }

    /// `name=value` (quoted when the value holds anything that would make the line ambiguous), or a
    /// JSON member.
    mutating func add(_ name: Name, _ value: String) {
        guard !name.isOwn else { return }
        bytes.append(contentsOf: name.bytes)
        switch format {
        case .text:
            var value = value
            value.withUTF8 { appendText($0) }
        case .json:
            JSONWriter.writeString(value, into: &bytes)
        }
    }

    /// A field whose value is `first` followed by `second` (a reply's word and its text).
    mutating func add(_ name: Name, _ first: String, _ second: String) {
        guard !second.isEmpty else { return add(name, first) }
        guard !name.isOwn else { return }
        bytes.append(contentsOf: name.bytes)
        switch format {
        case .text:
            var first = first, second = second
            first.withUTF8 { first in second.withUTF8 { second in appendText(first, then: second) } }
        case .json:
            JSONWriter.writeString(first + second, into: &bytes)
        }
    }

    /// A text value: as it is, in double quotes, or quoted with escapes, as its bytes need.
    private mutating func appendText(_ first: UnsafeBufferPointer<UInt8>, then second: UnsafeBufferPointer<UInt8>? = nil) {
        var quoting = Self.quoting(first)
        if let second { quoting.formUnion(Self.quoting(second)) }
        if quoting.isEmpty {
            bytes.append(contentsOf: first)
            if let second { bytes.append(contentsOf: second) }
            return
        }
        bytes.append(UInt8(ascii: "\""))
        if quoting.contains(.escapes) {
            Self.appendEscaped(first, to: &bytes)
            if let second { Self.appendEscaped(second, to: &bytes) }
        } else {
            bytes.append(contentsOf: first)
            if let second { bytes.append(contentsOf: second) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// An integer field, its digits written without a String.
    mutating func add(_ name: Name, _ value: Int) {
        guard format == .text, value >= 0 else { return add(name, String(value)) }
        bytes.append(contentsOf: name.bytes)
        let start = bytes.count
        var rest = value
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    struct Quoting: OptionSet {
        let rawValue: UInt8
        /// The value holds a space, `=` or a character that must be escaped: it goes in double quotes.
        static let quotes = Quoting(rawValue: 1)
        /// It holds `"`, `\\` or a control character, which are escaped inside the quotes.
        static let escapes = Quoting(rawValue: 2)
    }

    /// What writing `bytes` as a text value takes, in one pass.
    static func quoting(_ bytes: UnsafeBufferPointer<UInt8>) -> Quoting {
        // A table, not a chain of comparisons: every decision line scans its answer and its reason.
        quotingByByte.withUnsafeBufferPointer { table in
            var quoting: UInt8 = 0
            for byte in bytes { quoting |= table[Int(byte)] }
            return Quoting(rawValue: quoting)
        }
    }

    /// Each byte's own `Quoting`: a space or `=` needs quotes; `"`, `\\` and control characters also escapes.
    private static let quotingByByte: [UInt8] = (0...255).map { byte in
        if byte == 0x20 || byte == Int(UInt8(ascii: "=")) { return Quoting.quotes.rawValue }
        if byte < 0x20 || byte == 0x7F || byte == Int(UInt8(ascii: "\"")) || byte == Int(UInt8(ascii: "\\")) {
            return Quoting([.quotes, .escapes]).rawValue
        }
        return 0
    }

    /// Appends `bytes` with quotes, backslashes and control characters escaped (to go between double
    /// quotes), so that one log line stays one line whatever a domain or a policy holds.
    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
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
    }
}
