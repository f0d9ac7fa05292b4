/// Parses one `_mta-sts` TXT record by the grammar of RFC 8461 §3.1:
///
///     sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
///     sts-field-delim = *WSP ";" *WSP
///     sts-field       = sts-id / sts-extension
///     sts-version     = %s"v=STSv1"
///     sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
///     sts-extension   = sts-ext-name "=" sts-ext-value
///     sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
///     sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
///
/// Choices the grammar leaves open:
/// - white space after the last field is accepted (published records often carry it; it changes nothing);
/// - a field named `id` is always the id, so `id=abc-123` is an invalid id, not an extension;
/// - when `id` appears more than once the first counts, as RFC 8461 §3.2 rules for repeated policy keys;
/// - errors have kind `invalid-input`, not `sts-policy-invalid`: an invalid record means "no policy"
///   (§3.1), which is not a TLSRPT policy failure. `TXTDiscovery` reports it as reason `invalid-record`.
public enum STSRecordParser {
    /// Far beyond any real record; a DNS answer cannot be much larger anyway.
    public static let maxRecordBytes = 8192

    public static func parse(_ record: [UInt8]) throws(STSError) -> STSRecord {
        func invalid(_ message: String) -> STSError { STSError(.invalidInput, message) }

        guard record.count <= maxRecordBytes else { throw invalid("the record is longer than \(maxRecordBytes) bytes") }
        if let bad = record.firstIndex(where: { !isPrintableASCII($0) && !isWSP($0) }) {
            throw invalid("the record has a byte (0x\(String(record[bad], radix: 16, uppercase: true))) that is not printable US-ASCII at position \(bad + 1)")
        }
        let version = Array("v=STSv1".utf8)
        guard record.starts(with: version) else { throw invalid("the record does not begin with v=STSv1") }

        var id: String?
        var extensions: [STSRecordExtension] = []
        var index = version.count
        func skipWSP() { while index < record.count, isWSP(record[index]) { index += 1 } }

        while true {
            skipWSP()
            if index == record.count { break }
            guard record[index] == UInt8(ascii: ";") else {
                throw invalid("expected \";\" at position \(index + 1), found \(UntrustedText.quoted(record[index...]))")
            }
            index += 1
            skipWSP()
            if index == record.count { break }  // a delimiter may end the record
            guard record[index] != UInt8(ascii: ";") else { throw invalid("empty field at position \(index + 1)") }

            // A field runs to the next delimiter or white space; what follows must be a delimiter.
            let start = index
            while index < record.count, record[index] != UInt8(ascii: ";"), !isWSP(record[index]) { index += 1 }
            let field = record[start..<index]
            guard let equals = field.firstIndex(of: UInt8(ascii: "=")) else {
                throw invalid("field \(UntrustedText.quoted(field)) is not name=value")
            }
            let name = field[start..<equals]
            let value = field[(equals + 1)...]
            if name.elementsEqual("id".utf8) {
                guard (1...32).contains(value.count), value.allSatisfy(isAlphaDigit) else {
                    throw invalid("id \(UntrustedText.quoted(value)) must be 1 to 32 letters or digits")
                }
                if id == nil { id = String(decoding: value, as: UTF8.self) }
            } else {
                guard isExtensionName(name) else {
                    throw invalid("field name \(UntrustedText.quoted(name)) must be a letter or digit and up to 31 letters, digits, \"_\", \"-\" or \".\"")
                }
                guard !value.isEmpty, value.allSatisfy({ $0 != UInt8(ascii: "=") }) else {
                    throw invalid("field \(UntrustedText.quoted(name)) must have a value of printable characters other than \"=\" and \";\"")
                }
                extensions.append(STSRecordExtension(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
            }
        }
        guard let id else { throw invalid("the record has no id field") }
        return STSRecord(id: id, extensions: extensions, text: String(decoding: record, as: UTF8.self))
    }

    static func isWSP(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// %x21-7E: visible US-ASCII.
    static func isPrintableASCII(_ byte: UInt8) -> Bool { byte >= 0x21 && byte <= 0x7E }

    static func isAlphaDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
    }

    /// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`: the same rule names policy keys (§3.2).
    static func isExtensionName<Bytes: Collection<UInt8>>(_ name: Bytes) -> Bool {
        guard let first = name.first, isAlphaDigit(first), name.count <= 32 else { return false }
        return name.dropFirst().allSatisfy { isAlphaDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }
}
