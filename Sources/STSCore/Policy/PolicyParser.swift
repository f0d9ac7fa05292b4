/// Parses and validates policy text (RFC 8461 §3.2):
///
///     sts-policy-record      = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
///     sts-policy-term        = LF / CRLF
///     sts-policy-field-delim = ":" *WSP
///     version: STSv1 | mode: enforce/testing/none | max_age: 1*10DIGIT | mx: ["*."] Domain | ext-name: ext-value
///
/// Keys are case-sensitive. The first occurrence of a key wins, except `mx`, which repeats. Unknown
/// keys are ignored. Layout is read leniently where it cannot change meaning: blank lines and white
/// space around a line are skipped. Values are read strictly.
public enum PolicyParser {
    public static let maxBodyBytes = 65536
    public static let maxAgeLimit = 31_557_600
    /// More mx patterns than any real policy has, and than fit in Postfix's answer.
    public static let maxMXPatterns = 1000

    public static func parse(_ body: String) throws(STSError) -> Policy {
        try parse(Array(body.utf8))
    }

    public static func parse(_ body: [UInt8]) throws(STSError) -> Policy {
        func invalid(_ message: String) -> STSError { STSError(.stsPolicyInvalid, message) }
        guard body.count <= maxBodyBytes else { throw invalid("the policy is larger than \(maxBodyBytes) bytes") }
        guard !body.contains(0) else { throw invalid("the policy contains a NUL byte") }
        guard String(validating: body, as: UTF8.self) != nil else { throw invalid("the policy is not valid UTF-8 text") }

        var version: String?
        var mode: PolicyMode?
        var maxAge: Int?
        var mx: [MXPattern] = []
        var lines: [String] = []

        for (offset, rawLine) in body.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            var line = rawLine
            if line.last == 0x0D { line = line.dropLast() }
            guard let first = line.firstIndex(where: { !isWSP($0) }), let last = line.lastIndex(where: { !isWSP($0) }) else { continue }
            let trimmed = line[first...last]
            let text = String(decoding: line, as: UTF8.self)
            if let control = trimmed.first(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                throw invalid("line \(number): control character 0x\(String(control, radix: 16))")
            }
            guard let colon = trimmed.firstIndex(of: UInt8(ascii: ":")) else {
                throw invalid("line \(number): \"\(text)\" is not \"key: value\"")
            }
            let keyBytes = trimmed[trimmed.startIndex..<colon]
            guard isKey(keyBytes) else { throw invalid("line \(number): \"\(String(decoding: keyBytes, as: UTF8.self))\" is not a valid key") }
            let key = String(decoding: keyBytes, as: UTF8.self)
            let value = String(decoding: trimmed[(colon + 1)...].drop(while: isWSP), as: UTF8.self)
            lines.append(String(decoding: trimmed, as: UTF8.self))

            switch key {
            case "version":
                guard version == nil else { continue }
                guard value == "STSv1" else { throw invalid("line \(number): version \"\(value)\" is not STSv1") }
                version = value
            case "mode":
                guard mode == nil else { continue }
                guard let parsed = PolicyMode(rawValue: value) else {
                    throw invalid("line \(number): mode \"\(value)\" is not enforce, testing or none")
                }
                mode = parsed
            case "max_age":
                guard maxAge == nil else { continue }
                guard (1...10).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let seconds = Int(value) else {
                    throw invalid("line \(number): max_age \"\(value)\" must be 1 to 10 digits")
                }
                guard seconds <= maxAgeLimit else {
                    throw invalid("line \(number): max_age \(seconds) is more than \(maxAgeLimit)")
                }
                maxAge = seconds
            case "mx":
                guard let pattern = MXPattern(value) else {
                    throw invalid("line \(number): mx \"\(value)\" is not a host name or *. and a host name")
                }
                if !mx.contains(pattern) { mx.append(pattern) }
                guard mx.count <= maxMXPatterns else { throw invalid("line \(number): more than \(maxMXPatterns) mx patterns") }
            default:
                continue  // an extension: ignored, but kept in `lines`
            }
        }
        guard let version else { throw invalid("the policy has no version") }
        guard let mode else { throw invalid("the policy has no mode") }
        guard let maxAge else { throw invalid("the policy has no max_age") }
        guard mode == .none || !mx.isEmpty else { throw invalid("the policy has no mx (required unless mode is none)") }
        return Policy(version: version, mode: mode, maxAge: maxAge, mx: mx, lines: lines)
    }

    static func isWSP(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`; covers the known keys too.
    static func isKey(_ key: ArraySlice<UInt8>) -> Bool {
        STSRecordParser.isExtensionName(key)
    }
}
