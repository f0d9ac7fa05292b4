/// The grammar of RFC 8461 §3.1:
///
///     sts-text-record = sts-version 1*(*WSP field-delim *WSP sts-field) [field-delim]
///     sts-field       = sts-id / sts-extension
///     sts-version     = %s"v=STSv1"
///     sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
///     sts-extension   = sts-ext-name "=" sts-ext-value
///     sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
///     sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
///
/// Two choices the grammar leaves open: white space after the last field or delimiter is accepted
/// (published records often carry it, and it changes nothing), and when `id` appears twice the first
/// one counts, as RFC 8461 §3.2 rules for repeated policy keys.
public enum STSRecordParser {
    public static let maxRecordBytes = 8192

    public static func parse(_ record: [UInt8]) throws(STSError) -> STSRecord {
        func invalid(_ message: String) -> STSError { STSError(.stsPolicyInvalid, message) }
        guard record.count <= maxRecordBytes else { throw invalid("the record is longer than \(maxRecordBytes) bytes") }
        if let bad = record.first(where: { $0 > 0x7E || ($0 < 0x20 && $0 != 0x09) }) {
            throw invalid("the record has a byte (0x\(String(bad, radix: 16))) outside printable US-ASCII")
        }
        let version = Array("v=STSv1".utf8)
        guard record.starts(with: version) else { throw invalid("the record does not begin with v=STSv1") }
        let text = String(decoding: record, as: UTF8.self)

        var index = version.count
        var id: String?
        var extensions: [STSRecordExtension] = []
        var fields = 0
        func isWSP(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        func skipWSP() { while index < record.count, isWSP(record[index]) { index += 1 } }

        while true {
            skipWSP()
            if index == record.count { break }
            guard record[index] == UInt8(ascii: ";") else {
                throw invalid("expected \";\" at position \(index + 1)")
            }
            index += 1
            skipWSP()
            if index == record.count { break }  // a trailing delimiter (and white space) ends the record
            // A field runs to the next delimiter or white space.
            let start = index
            while index < record.count, record[index] != UInt8(ascii: ";"), !isWSP(record[index]) { index += 1 }
            let field = record[start..<index]
            guard !field.isEmpty else { throw invalid("empty field at position \(start + 1)") }
            guard let equals = field.firstIndex(of: UInt8(ascii: "=")) else {
                throw invalid("field \"\(String(decoding: field, as: UTF8.self))\" has no \"=\"")
            }
            let name = String(decoding: field[start..<equals], as: UTF8.self)
            let value = field[(equals + 1)...]
            fields += 1
            if name == "id" {
                guard (1...32).contains(value.count), value.allSatisfy(isAlphaDigit) else {
                    throw invalid("id \"\(String(decoding: value, as: UTF8.self))\" must be 1 to 32 letters or digits")
                }
                if id == nil { id = String(decoding: value, as: UTF8.self) }
            } else {
                guard isExtensionName(field[start..<equals]) else {
                    throw invalid("\"\(name)\" is not a valid field name")
                }
                guard !value.isEmpty, value.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: ";") }) else {
                    throw invalid("field \"\(name)\" has an empty or invalid value")
                }
                extensions.append(STSRecordExtension(name: name, value: String(decoding: value, as: UTF8.self)))
            }
        }
        guard fields > 0, let id else { throw invalid("the record has no id field") }
        return STSRecord(id: id, extensions: extensions, text: text)
    }

    static func isAlphaDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
    }

    static func isExtensionName(_ name: ArraySlice<UInt8>) -> Bool {
        guard let first = name.first, isAlphaDigit(first), name.count <= 32 else { return false }
        return name.dropFirst().allSatisfy { isAlphaDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }
}
