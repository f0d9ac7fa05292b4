import CIDN2

/// Domain names as the pipeline and Postfix's keys give them, reduced to the one form we look up,
/// cache and compare: lower-case A-labels, no trailing dot.
public enum DomainName {
    /// Longest input considered at all; a longer one is refused before any work.
    public static let maxInputBytes = 1024

    /// Normalises a policy domain: lower-cases, removes one trailing dot, converts U-labels to A-labels
    /// (IDNA2008 with UTS #46 non-transitional mapping, libidn2), then checks the result is a host name.
    /// Names with a single label are refused: a policy host `mta-sts.<domain>` needs a registered domain.
    public static func normalize(_ input: String) throws(STSError) -> String {
        let bytes = input.utf8
        guard !bytes.isEmpty else { throw STSError(.invalidDomain, "the domain name is empty") }
        guard bytes.count <= maxInputBytes else {
            throw STSError(.invalidDomain, "the domain name is longer than \(maxInputBytes) bytes")
        }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw STSError(.invalidDomain, "the domain name contains control characters")
        }
        if bytes.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]") }) {
            throw STSError(.invalidDomain, "\"\(input)\" is an address or has a port, not a domain name")
        }
        var name = input
        if name.hasSuffix(".") { name.removeLast() }

        let ascii: String
        if name.utf8.allSatisfy({ $0 < 0x80 }) {
            ascii = String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
            if ascii.split(separator: ".", omittingEmptySubsequences: false).contains(where: { $0.hasPrefix("xn--") }) {
                try checkALabels(ascii)
            }
        } else {
            ascii = try toASCII(name)
        }
        if let problem = hostnameProblem(ascii) {
            throw STSError(.invalidDomain, "\"\(input)\" is not a valid domain name: \(problem)")
        }
        return ascii
    }

    /// Strict check of a normalised host name: lower-case LDH labels of 1 to 63 characters, no hyphen
    /// at either end of a label, at most 253 characters, at least two labels, no trailing dot, and a
    /// last label that is not all digits (so no IPv4 address passes).
    public static func isValidHostname(_ name: String) -> Bool {
        hostnameProblem(name) == nil
    }

    static func hostnameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > 253 { return "it is longer than 253 characters" }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.count < 2 { return "it has a single label" }
        for label in labels {
            if label.isEmpty { return "it has an empty label" }
            if label.count > 63 { return "a label is longer than 63 characters" }
            if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") { return "a label starts or ends with a hyphen" }
            for byte in label {
                let ok = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-")
                if !ok {
                    return byte >= 0x41 && byte <= 0x5A ? "it has upper-case letters" : "it has a character other than letters, digits and hyphens"
                }
            }
        }
        if labels.last!.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return "the last label is all digits (an address, not a name)" }
        return nil
    }

    /// U-labels to A-labels with libidn2.
    static func toASCII(_ name: String) throws(STSError) -> String {
        var output: UnsafeMutablePointer<CChar>?
        let flags = Int32(IDN2_NFC_INPUT.rawValue | IDN2_NONTRANSITIONAL.rawValue)
        let code = idn2_to_ascii_8z(name, &output, flags)
        defer { idn2_free(output) }
        guard code == Int32(IDN2_OK.rawValue), let output else {
            throw STSError(.invalidDomain, "\"\(name)\" is not a valid internationalised domain name: \(String(cString: idn2_strerror(code)))")
        }
        return String(cString: output).lowercased()
    }

    /// Refuses `xn--` labels that do not decode to a valid U-label (and encode back to themselves).
    static func checkALabels(_ name: String) throws(STSError) {
        var output: UnsafeMutablePointer<CChar>?
        let code = idn2_to_unicode_8z8z(name, &output, 0)
        defer { idn2_free(output) }
        guard code == Int32(IDN2_OK.rawValue), let output else {
            throw STSError(.invalidDomain, "\"\(name)\" has an invalid A-label: \(String(cString: idn2_strerror(code)))")
        }
        let roundTrip = try toASCII(String(cString: output))
        guard roundTrip == name else {
            throw STSError(.invalidDomain, "\"\(name)\" has an A-label that is not in canonical form")
        }
    }
}
