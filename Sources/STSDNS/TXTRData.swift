/// TXT record data on the wire (RFC 1035 §3.3.14): one or more character-strings, each a length
/// byte and that many bytes.
public enum TXTRData {
    /// The character-strings of one TXT record, or nil when the data is malformed (a length that runs
    /// past the end).
    public static func characterStrings(_ rdata: [UInt8]) -> [[UInt8]]? {
        var strings: [[UInt8]] = []
        var index = 0
        while index < rdata.count {
            let length = Int(rdata[index])
            index += 1
            guard index + length <= rdata.count else { return nil }
            strings.append(Array(rdata[index..<index + length]))
            index += length
        }
        return strings
    }
}
