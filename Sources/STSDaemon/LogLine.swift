import Logging
import STSCore

/// One log line being built, as text (`time level label: message key=value ...`) or as one JSON object
/// (`{"time":...,"level":...,"logger":...,"message":...,"key":"value"}`): the one formatter behind the
/// swift-log handler and the decision log. Built as bytes in one buffer: a busy daemon writes one of
/// these per lookup.
struct LogLine {
    private(set) var bytes: [UInt8] = []
    let format: LineLogHandler.Format

    /// The keys a JSON line has of its own; a field of the same name is left out of it.
    static let ownJSONKeys: Set<String> = ["time", "level", "logger", "message"]

    init(format: LineLogHandler.Format, level: Logger.Level, label: String, message: String) {
        self.format = format
        bytes.reserveCapacity(256)
        switch format {
        case .text:
            append(LogTimestamp.now())
            bytes.append(UInt8(ascii: " "))
            append(level.rawValue)
            bytes.append(UInt8(ascii: " "))
            append(label)
            append(": ")
            append(message)
        case .json:
            bytes.append(contentsOf: #"{"time":"#.utf8)
            JSONWriter.writeString(LogTimestamp.now(), into: &bytes)
            bytes.append(contentsOf: #","level":"#.utf8)
            JSONWriter.writeString(level.rawValue, into: &bytes)
            bytes.append(contentsOf: #","logger":"#.utf8)
            JSONWriter.writeString(label, into: &bytes)
            bytes.append(contentsOf: #","message":"#.utf8)
            JSONWriter.writeString(message, into: &bytes)
        }
    }

    /// `key=value` (quoted when the value holds anything that would make the line ambiguous), or a
    /// JSON member. Keys are ours, never from the network.
    mutating func add(_ key: String, _ value: String) {
        add(key, value, "")
    }

    /// A field whose value is `first` followed by `second` (a reply's word and its text).
    mutating func add(_ key: String, _ first: String, _ second: String) {
        switch format {
        case .text:
            beginTextField(key)
            var first = first, second = second
            first.withUTF8 { first in
                second.withUTF8 { second in
                    let quoting = Self.quoting(first).union(Self.quoting(second))
                    if quoting.isEmpty {
                        bytes.append(contentsOf: first)
                        bytes.append(contentsOf: second)
                        return
                    }
                    bytes.append(UInt8(ascii: "\""))
                    if quoting.contains(.escapes) {
                        Self.appendEscaped(first, to: &bytes)
                        Self.appendEscaped(second, to: &bytes)
                    } else {
                        bytes.append(contentsOf: first)
                        bytes.append(contentsOf: second)
                    }
                    bytes.append(UInt8(ascii: "\""))
                }
            }
        case .json:
            guard !Self.ownJSONKeys.contains(key) else { return }
            bytes.append(UInt8(ascii: ","))
            JSONWriter.writeString(key, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONWriter.writeString(second.isEmpty ? first : first + second, into: &bytes)
        }
    }

    /// ` key=`, before a text value.
    private mutating func beginTextField(_ key: String) {
        bytes.append(UInt8(ascii: " "))
        append(key)
        bytes.append(UInt8(ascii: "="))
    }

    /// A string's bytes, copied whole (appending its UTF-8 view goes byte by byte).
    private mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// The line, without its line feed.
    consuming func finished() -> [UInt8] {
        if format == .json { bytes.append(UInt8(ascii: "}")) }
        return bytes
    }

    /// An integer field, its digits written without a String.
    mutating func add(_ key: String, _ value: Int) {
        guard format == .text, value >= 0 else { return add(key, String(value)) }
        beginTextField(key)
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
