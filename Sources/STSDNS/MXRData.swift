/// MX record data on the wire (RFC 1035 §3.3.9): a 16-bit preference and the exchange's name as
/// uncompressed labels (libunbound hands RDATA over decompressed).
public enum MXRData {
    /// Preference and exchange (lower-case, without the final dot; "" for the root, a null MX), or nil
    /// when the data is malformed.
    public static func parse(_ rdata: [UInt8]) -> (preference: Int, exchange: String)? {
        guard rdata.count >= 3 else { return nil }
        let preference = Int(rdata[0]) << 8 | Int(rdata[1])
        var labels: [String] = []
        var index = 2
        while true {
            guard index < rdata.count else { return nil }
            let length = Int(rdata[index])
            index += 1
            if length == 0 { break }
            // 0xC0 and above would be a compression pointer, which RDATA handed to us must not hold.
            guard length <= 63, index + length <= rdata.count else { return nil }
            labels.append(String(decoding: rdata[index..<index + length], as: UTF8.self).lowercased())
            index += length
        }
        guard index == rdata.count else { return nil }
        return (preference, labels.joined(separator: "."))
    }
}
