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
        guard let space = payload.firstIndex(of: 0x20), space > 0, space < payload.count - 1,
            !payload.contains(where: { $0 < 0x20 || $0 == 0x7F }),
            let name = String(validating: payload[..<space], as: UTF8.self),
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
        switch self {
        case .ok(let value): "OK \(value)"
        case .notFound: "NOTFOUND "
        case .temp(let reason): "TEMP \(Self.clean(reason))"
        case .timeout(let reason): "TIMEOUT \(Self.clean(reason))"
        case .perm(let reason): "PERM \(Self.clean(reason))"
        }
    }

    public var netstring: [UInt8] { NetstringEncoder.encode(payload) }

    /// Reasons end up in Postfix's logs: printable ASCII, one line, bounded.
    static func clean(_ reason: String) -> String {
        String(String(decoding: reason.utf8.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self).prefix(512))
    }
}
