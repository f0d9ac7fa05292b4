/// The answer Postfix's TLS policy lookup gets for a domain's MTA-STS policy: the one function that
/// both sts-query and sts-socketmapd use, so what an auditor sees is what Postfix gets.
public enum TLSPolicyAnswer: Sendable, Equatable {
    /// A TLS policy table value, e.g. `secure match=mx1.example.com:.example.net servername=hostname`.
    case policy(String)
    /// No policy to apply (socketmap `NOTFOUND`), and why.
    case noPolicy(String)
    /// The policy cannot be written within Postfix's reply limit (its `match=` list alone is too long;
    /// TLSRPT attributes are left out rather than cause this).
    case tooLarge(Int)

    /// Postfix refuses socketmap replies over 100000 bytes; "OK " and the netstring frame take some.
    public static let maxValueBytes = 99_000

    public static func render(_ policy: Policy, domain: String, options: ZoneOptions = ZoneOptions()) -> TLSPolicyAnswer {
        switch policy.mode {
        case .none:
            return .noPolicy("the policy's mode is none")
        case .testing where !options.strictTesting:
            return .noPolicy("the policy's mode is testing")
        case .enforce, .testing:
            break
        }
        // Defence in depth: the parser already refuses such policies, but nothing that is not a checked
        // pattern may ever be written into Postfix's answer.
        let patterns = policy.mx.filter { DomainName.isValidHostname($0.baseName, for: .mxHost) }
        guard !patterns.isEmpty else { return .noPolicy("the policy has no usable mx pattern") }

        var value = "secure match=" + patterns.map(\.postfixMatch).joined(separator: ":")
        if options.requireSNI { value += " servername=hostname" }
        guard value.utf8.count <= maxValueBytes else { return .tooLarge(value.utf8.count) }
        guard options.tlsrpt else { return .policy(value) }

        // The TLSRPT attributes only describe the policy for reports; when they would push the answer
        // over Postfix's limit they give way (the policy lines first, then all of them), so a large
        // policy is enforced as in a zone without tlsrpt rather than not at all.
        let attributes = " policy_type=sts policy_domain=\(domain)" + patterns.map { " mx_host_pattern=\($0.pattern)" }.joined()
        // A line with blanks around it (the parser allows them; Postfix would trim them from a `{ ... }`
        // value anyway) is reported as its text rather than left out.
        let strings = policy.lines.map { $0.trimming(" \t") }.filter(isSafePolicyString).map { " { policy_string = \($0) }" }.joined()
        for candidate in [value + attributes + strings, value + attributes] where candidate.utf8.count <= maxValueBytes {
            return .policy(candidate)
        }
        return .policy(value)
    }

    /// A policy line can be written inside `{ ... }` only if it cannot end or open a block, break the
    /// line, or be trimmed into something else.
    static func isSafePolicyString(_ line: String) -> Bool {
        !line.isEmpty && line.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "{") && $0 != UInt8(ascii: "}") }
            && line.first != " " && line.last != " "
    }
}
