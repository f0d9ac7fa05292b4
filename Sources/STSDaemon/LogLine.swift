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
            bytes.append(contentsOf: LogTimestamp.now().utf8)
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: level.rawValue.utf8)
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: label.utf8)
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: message.utf8)
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
        switch format {
        case .text:
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: key.utf8)
            bytes.append(UInt8(ascii: "="))
            var value = value
            value.withUTF8 { utf8 in
                if utf8.contains(where: Self.needsQuotes) {
                    Self.appendQuoted(utf8, to: &bytes)
                } else {
                    bytes.append(contentsOf: utf8)
                }
            }
        case .json:
            guard !Self.ownJSONKeys.contains(key) else { return }
            bytes.append(UInt8(ascii: ","))
            JSONWriter.writeString(key, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONWriter.writeString(value, into: &bytes)
        }
    }

    /// The line, without its line feed.
    consuming func finished() -> [UInt8] {
        if format == .json { bytes.append(UInt8(ascii: "}")) }
        return bytes
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
