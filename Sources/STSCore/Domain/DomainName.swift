import CIDN2

/// Domain names as users, Postfix keys and policies give them, reduced to the one form we look up,
/// cache, compare and write into Postfix's answer: lower-case A-labels, no trailing dot.
public enum DomainName {
    /// Longest input looked at at all; anything longer is refused before any work.
    public static let maxInputBytes = 1024
    /// RFC 1035 limits, in presentation form without the trailing dot.
    public static let maxNameBytes = 253
    public static let maxLabelBytes = 63

    /// What a name stands for; the grammars differ.
    public enum Use: Sendable {
        /// A policy domain or a policy host: at least two labels, the last not all digits.
        case policyDomain
        /// An `mx` value of a policy (RFC 8461 §3.2: RFC 5321's `Domain`): a single label and an
        /// all-digit last label are allowed too (`localhost`, `*.com`, `mail.123`); only a name of
        /// digits alone is refused, being an address rather than a name.
        case mxHost
    }

    /// The full stop and the three dots UTS #46 maps to it.
    static let labelSeparators: Set<Unicode.Scalar> = [".", "\u{3002}", "\u{FF0E}", "\u{FF61}"]

    /// Normalises a policy domain: lower-cases, removes one trailing dot, converts U-labels to A-labels
    /// (IDNA2008 with UTS #46 non-transitional mapping, libidn2), then checks the result with
    /// `isValidHostname`.
    ///
    /// Names of a single label (`localhost`) are refused: MTA-STS needs `mta-sts.<domain>` and
    /// `_mta-sts.<domain>` in public DNS, so a policy domain has at least two labels (`good.test` is fine).
    /// Pure-ASCII labels are not sent through libidn2, so valid host names such as `r3--sn-a.example`
    /// (hyphens in positions 3 and 4, which IDNA2008 refuses for U-labels) keep working; `xn--` labels
    /// are checked to be valid A-labels.
    public static func normalize(_ input: String, for use: Use = .policyDomain) throws(STSError) -> String {
        if let name = plainHostname(input) { return name }
        let byteCount = input.utf8.count
        guard byteCount > 0 else { throw STSError(.invalidDomain, "the domain name is empty") }
        guard byteCount <= maxInputBytes else {
            throw STSError(.invalidDomain, "the domain name is longer than \(maxInputBytes) bytes")
        }
        guard !input.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw STSError(.invalidDomain, "\(UntrustedText.quoted(input)) contains a control character")
        }
        if input.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]") }) {
            throw STSError(.invalidDomain, "\(UntrustedText.quoted(input)) is an address or has a port, not a domain name")
        }

        // UTS #46 treats these four as label separators; splitting first lets each label be converted on
        // its own, so a mapping can never merge or split labels behind our back. Scalars, not Characters:
        // a dot followed by a combining mark is still a separator.
        var labels = input.unicodeScalars.split(omittingEmptySubsequences: false, whereSeparator: labelSeparators.contains)
            .map { String(String.UnicodeScalarView($0)) }
        if labels.count > 1, labels.last!.isEmpty { labels.removeLast() }

        var asciiLabels: [String] = []
        for label in labels {
            asciiLabels.append(try asciiLabel(label, in: input))
        }
        let name = asciiLabels.joined(separator: ".")
        if let problem = hostnameProblem(name, for: use) {
            throw STSError(.invalidDomain, "\(UntrustedText.quoted(input)) is not a valid domain name: \(problem)")
        }
        return name
    }

    /// The common case without the general path: an ASCII letters-digits-hyphens name (any case, one
    /// optional final dot, no A-label, which needs libidn2's check) that is valid once lower-cased. Gives
    /// what the general path gives for such a name; nil sends every other input there.
    static func plainHostname(_ input: String) -> String? {
        var input = input
        return input.withUTF8(plainHostname(bytes:))
    }

    private static func plainHostname(bytes input: UnsafeBufferPointer<UInt8>) -> String? {
        // Written straight into the string's own storage from contiguous bytes: every Postfix lookup
        // passes here. A byte outside the plain set makes the result empty, which no name is.
        let name = String(unsafeUninitializedCapacity: input.count) { buffer in
            var count = 0
            for byte in input {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."):
                    buffer[count] = byte
                case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    buffer[count] = byte + 0x20
                default:
                    return 0
                }
                count += 1
            }
            if count > 1, buffer[count - 1] == UInt8(ascii: ".") { count -= 1 }
            return count
        }
        guard !name.isEmpty else { return nil }
        var copy = name
        let usable = copy.withUTF8 { bytes in
            // An A-label ("xn--" at the start of a label) needs libidn2's check.
            for index in bytes.indices where bytes[index] == UInt8(ascii: "x") && (index == 0 || bytes[index - 1] == UInt8(ascii: ".")) {
                if bytes[index...].starts(with: "xn--".utf8) { return false }
            }
            return hostnameProblem(bytes: bytes, for: .policyDomain) == nil
        }
        return usable ? name : nil
    }

    /// Strict check of an already normalised host name: lower-case LDH labels of 1 to 63 characters, no
    /// hyphen at either end of a label, at most 253 characters, at least two labels, no trailing dot,
    /// and a last label that is not all digits (so no IPv4 address passes). Only such names may reach
    /// Postfix's answer.
    /// `.mxHost` relaxes the label-count and last-label rules as that grammar does; everything else is
    /// the same.
    public static func isValidHostname(_ name: String, for use: Use = .policyDomain) -> Bool {
        hostnameProblem(name, for: use) == nil
    }

    /// What is wrong with `name` as a normalised host name, in words; nil when nothing is.
    static func hostnameProblem(_ name: String, for use: Use = .policyDomain) -> String? {
        var name = name
        // Every Postfix lookup and every mx pattern of an answer passes here: one pass over contiguous
        // bytes, no arrays.
        return name.withUTF8 { hostnameProblem(bytes: $0, for: use) }
    }

    private static func hostnameProblem(bytes: UnsafeBufferPointer<UInt8>, for use: Use) -> String? {
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > maxNameBytes { return "it is longer than \(maxNameBytes) characters" }
        if use == .policyDomain, !bytes.contains(UInt8(ascii: ".")) { return "it has a single label (a policy domain has at least two)" }
        var start = 0
        var allLabelsDigits = true
        var lastLabelDigits = true
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: ".") { end += 1 }
            let label = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if label.isEmpty { return "it has an empty label" }
            if label.count > maxLabelBytes { return "a label is longer than \(maxLabelBytes) characters" }
            if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                return "a label begins or ends with a hyphen"
            }
            var digits = true
            for byte in label {
                guard isLDH(byte) else {
                    return isUpperASCII(byte) ? "it has upper-case letters" : "it has a character other than letters, digits and hyphens"
                }
                if !isDigit(byte) { digits = false }
            }
            allLabelsDigits = allLabelsDigits && digits
            lastLabelDigits = digits
            start = end + 1
        }
        if allLabelsDigits { return "it is all digits: an address, not a name" }
        if use == .policyDomain, lastLabelDigits { return "the last label is all digits" }
        return nil
    }

    /// One label in lower-case A-label form. ASCII labels are only case-folded (and `xn--` ones checked);
    /// others go through libidn2.
    static func asciiLabel(_ label: String, in input: String) throws(STSError) -> String {
        if label.utf8.allSatisfy({ $0 < 0x80 }) {
            let lower = String(decoding: label.utf8.map { isUpperASCII($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
            if lower.hasPrefix("xn--") {
                // libidn2 decodes the A-label, checks the U-label against IDNA2008 and encodes it again;
                // anything but the same label back means the A-label was not valid and canonical.
                let checked = try lookup(lower, in: input)
                guard checked == lower else {
                    throw STSError(.invalidDomain, "\(UntrustedText.quoted(input)) has an A-label that is not in canonical form: \(lower)")
                }
            }
            return lower
        }
        let converted = try lookup(label, in: input)
        guard !converted.contains(".") else {
            throw STSError(.invalidDomain, "\(UntrustedText.quoted(input)) has a label that maps to more than one label")
        }
        return converted
    }

    /// libidn2's IDNA2008 lookup conversion with UTS #46 non-transitional mapping of NFC input.
    static func lookup(_ label: String, in input: String) throws(STSError) -> String {
        let flags = Int32(bitPattern: IDN2_NFC_INPUT.rawValue | IDN2_NONTRANSITIONAL.rawValue)
        var output: UnsafeMutablePointer<UInt8>?
        let source = Array(label.utf8) + [0]
        let code = source.withUnsafeBufferPointer { idn2_lookup_u8($0.baseAddress, &output, flags) }
        defer { idn2_free(output) }
        guard code == Int32(IDN2_OK.rawValue), let output else {
            let reason = String(cString: idn2_strerror(code))
            throw STSError(.invalidDomain, "\(UntrustedText.quoted(input)) is not a valid internationalised domain name: \(reason)")
        }
        return String(decoding: String(cString: output).utf8.map { isUpperASCII($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    static func isLDH(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || isDigit(byte) || byte == UInt8(ascii: "-")
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func isUpperASCII(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
}
