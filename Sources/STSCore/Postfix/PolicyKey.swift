/// Turns the key Postfix's TLS policy lookup sends into the policy domain to answer for, or says why
/// there is none. Postfix looks up the next-hop destination in several forms (SPEC, RFC 8461 §3.4):
///
///     example.com  EXAMPLE.COM  example.com.   the domain itself
///     [example.com]  [example.com]:587  example.com:587   relayhost forms: the host is the policy domain
///     [example.com]:submission  example.com:smtp  the same with a service name for the port
///     .example.com                             a parent-domain probe: never answered with a policy
///     [192.0.2.1]  192.0.2.1  [ipv6:2001:db8::1]   address literals: no policy
///     bücher.example                           UTF-8 IDN: looked up as its A-label
public enum PolicyKey: Sendable, Equatable {
    case domain(String)
    case noPolicy(String)

    public static func resolve(_ key: String) -> PolicyKey {
        // Nearly every key is a plain host name, which no other form below can be (it has no "[" or
        // ":", does not start with "." and is no IPv4 address): it is the domain as it is normalised.
        if let name = DomainName.plainHostname(key) { return .domain(name) }
        // Bytes, not Characters: ":" "[" "." are ASCII.
        if key.utf8.first == UInt8(ascii: ".") { return .noPolicy("parent-domain probe") }
        var host = Substring(key)
        if host.utf8.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(of: "]") else { return .noPolicy("unbalanced brackets") }
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || isPort(rest) else { return .noPolicy("unexpected text after ]") }
            host = host[host.index(after: host.startIndex)..<close]
            if host.lowercased().hasPrefix("ipv6:") || host.contains(":") { return .noPolicy("address literal") }
        } else if let colon = host.utf8.lastIndex(of: UInt8(ascii: ":")) {
            let port = host[colon...]
            // A bare IPv6 address has colons but is no host:port.
            guard isPort(port), !host[..<colon].contains(":") else { return .noPolicy("address literal") }
            host = host[..<colon]
        }
        if isIPv4(host) || isIPv4(host.hasSuffix(".") ? host.dropLast() : host) { return .noPolicy("address literal") }
        do {
            return .domain(try DomainName.normalize(String(host)))
        } catch {
            return .noPolicy(error.message)
        }
    }

    /// `:` followed by a port: 1 to 5 digits, or a service name as Postfix takes from services(5)
    /// (`[relay.example]:submission`): up to 32 letters, digits, `-` and `_`, with a letter among them,
    /// starting with a letter or digit.
    static func isPort(_ text: Substring) -> Bool {
        guard text.first == ":" else { return false }
        let port = text.utf8.dropFirst()
        if (1...5).contains(port.count) && port.allSatisfy(DomainName.isDigit) { return true }
        func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") }
        guard (1...32).contains(port.count), let first = port.first, isLetter(first) || DomainName.isDigit(first) else { return false }
        return port.contains(where: isLetter)
            && port.allSatisfy { isLetter($0) || DomainName.isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    static func isIPv4(_ text: Substring) -> Bool {
        // Most keys are host names: one that does not end in a digit is no address.
        guard let last = text.utf8.last, last >= UInt8(ascii: "0"), last <= UInt8(ascii: "9") else { return false }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.count) && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
        }
    }
}
