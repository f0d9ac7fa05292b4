#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IPv4 and IPv6 addresses in text form, as DNS answers give them to sts-dns and sts-fetch hands them
/// to libcurl. Anything that is not exactly an address literal is refused, so nothing else can reach
/// libcurl's address list.
public enum IPAddress {
    /// The text form of an A (4 bytes) or AAAA (16 bytes) record's data; nil for any other length.
    public static func text(bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let written = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &out, socklen_t(out.count)) }
        guard written != nil else { return nil }
        return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// `text` in canonical form when it is an IPv4 or IPv6 address literal (no brackets, zone or
    /// port), nil otherwise.
    public static func canonical(_ text: String) -> String? {
        guard text.utf8.count <= Int(INET6_ADDRSTRLEN) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { self.text(bytes: Array($0)) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { self.text(bytes: Array($0)) }
        }
        return nil
    }

    /// Whether a canonical address is IPv6 (libcurl wants those in brackets).
    public static func isIPv6(_ canonical: String) -> Bool {
        canonical.utf8.contains(UInt8(ascii: ":"))
    }
}
