/// An `mx` value of a policy (RFC 8461 §3.2, §4.1): a host name, or `*.` and a host name, in lower-case
/// A-label form. Nothing else can be built, so nothing else can reach Postfix's answer: a policy is
/// attacker-controlled text, and a space, `=`, `{`, `}` or `:` in a `match=` value would change its meaning.
public struct MXPattern: Sendable, Equatable, Hashable {
    /// `mail.example.com` or `*.example.net`.
    public let pattern: String

    public var isWildcard: Bool { pattern.hasPrefix("*.") }

    /// The name after `*.` for a wildcard, else the whole host name.
    public var baseName: String { isWildcard ? String(pattern.dropFirst(2)) : pattern }

    /// nil unless `text` is a host name or `*.` and a host name. Letters are lower-cased and U-labels
    /// converted to A-labels; a trailing dot is refused (the grammar's `Domain` has none, and a policy
    /// that writes one is not what its author checked).
    public init?(_ text: String) {
        let wildcard = text.hasPrefix("*.")
        let name = wildcard ? String(text.dropFirst(2)) : text
        guard let last = name.unicodeScalars.last, !DomainName.labelSeparators.contains(last),
            let normalized = try? DomainName.normalize(name, for: .mxHost)
        else { return nil }
        pattern = wildcard ? "*." + normalized : normalized
    }

    /// RFC 8461 §4.1: the host equals the pattern, or the pattern is `*.` + name and the host is one
    /// label followed by that name (`*.example.net` matches `a.example.net`, not `example.net` nor
    /// `a.b.example.net`). Compared without regard to ASCII case and with one trailing dot ignored.
    public func matches(host: String) -> Bool {
        var host = Array(host.utf8)
        if host.last == UInt8(ascii: ".") { host.removeLast() }
        host = host.map { DomainName.isUpperASCII($0) ? $0 + 0x20 : $0 }
        guard isWildcard else { return host.elementsEqual(pattern.utf8) }
        guard let dot = host.firstIndex(of: UInt8(ascii: ".")), dot > 0 else { return false }
        return host[(dot + 1)...].elementsEqual(baseName.utf8)
    }

    /// The form Postfix's `match=` takes: `*.example.net` is written `.example.net`.
    public var postfixMatch: String { isWildcard ? String(pattern.dropFirst()) : pattern }
}
