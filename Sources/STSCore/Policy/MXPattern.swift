/// An `mx` value of a policy: a host name, or `*.` and a host name (RFC 8461 §3.2, §4.1), in
/// lower-case A-label form. Nothing else can be built, so nothing else can reach Postfix's answer.
public struct MXPattern: Sendable, Equatable, Hashable {
    /// `mail.example.com` or `*.example.net`.
    public let pattern: String

    public var isWildcard: Bool { pattern.hasPrefix("*.") }

    /// The name after `*.` for a wildcard, else the whole host name.
    public var baseName: String { isWildcard ? String(pattern.dropFirst(2)) : pattern }

    /// nil unless `text` is a host name or `*.` + host name (U-labels are converted, case folded).
    public init?(_ text: String) {
        let wildcard = text.hasPrefix("*.")
        let name = wildcard ? String(text.dropFirst(2)) : text
        // A trailing dot, an address or anything DomainName would repair is not what a policy may say.
        guard !name.isEmpty, !name.hasSuffix("."), let normalized = try? DomainName.normalize(name) else { return nil }
        pattern = wildcard ? "*." + normalized : normalized
    }

    /// RFC 8461 §4.1: an exact match, or a wildcard matching exactly one leftmost label.
    public func matches(host: String) -> Bool {
        var host = host.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        guard isWildcard else { return host == pattern }
        guard let dot = host.firstIndex(of: "."), dot != host.startIndex else { return false }
        return host[host.index(after: dot)...] == baseName
    }

    /// The form Postfix's `match=` takes: `*.example.net` is written `.example.net`.
    public var postfixMatch: String { isWildcard ? String(pattern.dropFirst()) : pattern }
}
