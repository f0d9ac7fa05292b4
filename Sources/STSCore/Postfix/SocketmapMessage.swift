/// A socketmap request: `NAME KEY` (RFC-less, see Postfix socketmap_table(5)).
public struct SocketmapRequest: Sendable, Equatable {
    /// The map name: what follows the last colon in `socketmap:inet:HOST:PORT:NAME`. Our zone name.
    public var name: String
    public var key: String

    public init(name: String, key: String) {
        self.name = name
        self.key = key
    }

    /// nil for a payload that is not `NAME KEY` in UTF-8 without control characters.
    public init?(payload: [UInt8]) {
        var ascii = true
        for byte in payload {
            if byte < 0x20 || byte == 0x7F { return nil }
            if byte >= 0x80 { ascii = false }
        }
        guard let space = payload.firstIndex(of: 0x20), space > 0, space < payload.count - 1 else { return nil }
        // Nearly every request is ASCII, which is UTF-8 as it is; the rest is validated.
        if ascii {
            name = String(decoding: payload[..<space], as: UTF8.self)
            key = String(decoding: payload[(space + 1)...], as: UTF8.self)
            return
        }
        guard let name = String(validating: payload[..<space], as: UTF8.self),
            let key = String(validating: payload[(space + 1)...], as: UTF8.self)
        else { return nil }
        self.name = name
        self.key = key
    }
}

/// A socketmap reply. Postfix reads `OK <value>`, `NOTFOUND `, `TEMP <reason>`, `TIMEOUT <reason>`,
/// `PERM <reason>`.
public enum SocketmapReply: Sendable, Equatable {
    case ok(String)
    case notFound
    case temp(String)
    case timeout(String)
    case perm(String)

    public var payload: String {
        let (word, text) = parts
        return word + text
    }

    /// The payload in its two pieces, the word with its space and the value or reason: writers that
    /// copy bytes (a netstring, a log line) take them as they are rather than joined first.
    public var parts: (word: String, text: String) {
        switch self {
        case .ok(let value): ("OK ", value)
        case .notFound: ("NOTFOUND ", "")
        case .temp(let reason): ("TEMP ", Self.clean(reason))
        case .timeout(let reason): ("TIMEOUT ", Self.clean(reason))
        case .perm(let reason): ("PERM ", Self.clean(reason))
        }
    }

    public var netstring: [UInt8] {
        let (word, text) = parts
        return NetstringEncoder.encode(word, text)
    }

    /// Reasons end up in Postfix's logs: printable ASCII, one line, bounded.
    static func clean(_ reason: String) -> String {
        String(String(decoding: reason.utf8.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self).prefix(512))
    }
}
