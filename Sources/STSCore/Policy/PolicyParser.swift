/// Parses and validates policy text by RFC 8461 §3.2:
///
///     sts-policy-record      = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
///     sts-policy-term        = LF / CRLF
///     sts-policy-field-delim = ":" *WSP
///     version: STSv1 | mode: testing / enforce / none | max_age: 1*10DIGIT | mx: ["*."] Domain
///     sts-policy-extension   = sts-policy-ext-name sts-policy-field-delim sts-policy-ext-value
///     sts-policy-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
///     sts-policy-ext-value   = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]
///
/// Values are read as the grammar says, because a policy we misread is worse than one we refuse (a
/// refused policy means delivery as without MTA-STS, never deferred mail). Layout is read leniently
/// where it cannot change meaning, because refusing it would throw away a policy the domain meant:
/// - a line is `key:`, optional white space, the value, optional white space; white space before the
///   key and blank (or white-space-only) lines are skipped;
/// - a CR is a line end only right before LF; anywhere else it is a control character, which no value
///   may contain (nor a tab inside a value);
/// - keys are case-sensitive; for `version`, `mode` and `max_age` the first occurrence counts and later
///   ones are not looked at beyond the line syntax; `mx` repeats; unknown keys are ignored but must be
///   well-formed, and stay in `lines`;
/// - `max_age` is 1 to 10 digits (leading zeros allowed) and at most 31557600.
/// Bounds beyond the RFC: 64 KiB of text (§3.3), lines of at most 8192 bytes, at most 1000 `mx` lines.
public enum PolicyParser {
    public static let maxBodyBytes = 65536
    public static let maxLineBytes = 8192
    /// One year, RFC 8461 §3.2.
    public static let maxAgeLimit = 31_557_600
    /// More mx lines than any real policy has; their answer would not fit Postfix's reply limit anyway.
    public static let maxMXPatterns = 1000

    public static func parse(_ body: String) throws(STSError) -> Policy {
        try parse(Array(body.utf8))
    }

    public static func parse(_ body: [UInt8]) throws(STSError) -> Policy {
        func invalid(_ message: String) -> STSError { STSError(.stsPolicyInvalid, message) }

        guard body.count <= maxBodyBytes else { throw invalid("the policy is larger than \(maxBodyBytes) bytes") }
        guard !body.isEmpty else { throw invalid("the policy is empty") }
        guard !body.contains(0) else { throw invalid("the policy contains a NUL byte") }
        guard String(validating: body, as: UTF8.self) != nil else { throw invalid("the policy is not valid UTF-8 text") }
        guard !body.starts(with: [0xEF, 0xBB, 0xBF]) else { throw invalid("the policy begins with a byte order mark") }

        var version: String?
        var mode: PolicyMode?
        var maxAge: Int?
        var mx: [MXPattern] = []
        var seenMX: Set<MXPattern> = []
        var mxLines = 0
        var lines: [String] = []

        var rawLines = body.split(separator: 0x0A, omittingEmptySubsequences: false)
        if body.last == 0x0A { rawLines.removeLast() }  // the one line end the grammar allows after the last field

        for (offset, rawLine) in rawLines.enumerated() {
            let number = offset + 1
            func invalid(_ message: String) -> STSError { STSError(.stsPolicyInvalid, "line \(number): \(message)") }

            // CR LF ends a line; a CR at the very end of an unterminated last line is a lone CR.
            let terminated = offset < rawLines.count - 1 || body.last == 0x0A
            let unterminated = terminated && rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            guard unterminated.count <= maxLineBytes else { throw invalid("the line is longer than \(maxLineBytes) bytes") }
            // Blank lines and white space before a key are layout the grammar does not allow, but they
            // change no meaning and real policies carry them; refusing them would only turn a published
            // policy into none at all, so they are skipped.
            let content = unterminated.drop(while: isWSP)
            if content.isEmpty { continue }
            let line = content
            if line.contains(0x0D) { throw invalid("a carriage return that does not end the line") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw invalid("\(UntrustedText.quoted(line)) is not \"key: value\"")
            }
            let keyBytes = line[line.startIndex..<colon]
            guard STSRecordParser.isExtensionName(keyBytes) else {
                throw invalid("key \(UntrustedText.quoted(keyBytes)) must be a letter or digit and up to 31 letters, digits, \"_\", \"-\" or \".\"")
            }
            let valueBytes = trimmingWSP(line[(colon + 1)...])
            let key = String(decoding: keyBytes, as: UTF8.self)
            let value = String(decoding: valueBytes, as: UTF8.self)
            guard !valueBytes.isEmpty else { throw invalid("\(key) has no value") }
            if let control = valueBytes.first(where: isControl) {
                throw invalid("the value of \(key) contains a control character (0x\(String(control, radix: 16, uppercase: true)))")
            }
            lines.append(String(decoding: line, as: UTF8.self))

            switch key {
            case "version":
                guard version == nil else { continue }
                guard value == "STSv1" else { throw invalid("version \(UntrustedText.quoted(value)) is not STSv1") }
                version = value
            case "mode":
                guard mode == nil else { continue }
                guard let parsed = PolicyMode(rawValue: value) else {
                    throw invalid("mode \(UntrustedText.quoted(value)) is not enforce, testing or none")
                }
                mode = parsed
            case "max_age":
                guard maxAge == nil else { continue }
                guard valueBytes.count <= 10, valueBytes.allSatisfy(DomainName.isDigit), let seconds = Int(value) else {
                    throw invalid("max_age \(UntrustedText.quoted(value)) must be 1 to 10 digits")
                }
                guard seconds <= maxAgeLimit else { throw invalid("max_age \(seconds) is more than \(maxAgeLimit)") }
                maxAge = seconds
            case "mx":
                mxLines += 1
                guard mxLines <= maxMXPatterns else { throw invalid("more than \(maxMXPatterns) mx lines") }
                guard let pattern = MXPattern(value) else {
                    throw invalid("mx \(UntrustedText.quoted(value)) is not a host name or \"*.\" and a host name")
                }
                if seenMX.insert(pattern).inserted { mx.append(pattern) }
            default:
                continue  // an extension: ignored, but kept in `lines`
            }
        }
        guard let version else { throw invalid("the policy has no version line") }
        guard let mode else { throw invalid("the policy has no mode line") }
        guard let maxAge else { throw invalid("the policy has no max_age line") }
        guard mode == .none || !mx.isEmpty else { throw invalid("the policy has no mx line (required unless mode is none)") }
        return Policy(version: version, mode: mode, maxAge: maxAge, mx: mx, lines: lines)
    }

    static func isWSP(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// ASCII CTLs (including tab and DEL); UTF-8 is checked as a whole before.
    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    static func trimmingWSP(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let first = bytes.firstIndex(where: { !isWSP($0) }), let last = bytes.lastIndex(where: { !isWSP($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[first...last]
    }
}
