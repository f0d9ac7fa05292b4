/// A TLSA record (RFC 6698 §2.1): certificate usage, selector, matching type and the association data.
public struct TLSARecord: Sendable, Equatable {
    public var usage: UInt8
    public var selector: UInt8
    public var matchingType: UInt8
    public var data: [UInt8]

    public init(usage: UInt8, selector: UInt8, matchingType: UInt8, data: [UInt8]) {
        self.usage = usage
        self.selector = selector
        self.matchingType = matchingType
        self.data = data
    }

    /// The record from its wire RDATA, or nil when it is too short to hold the three fields and data.
    public init?(rdata: [UInt8]) {
        guard rdata.count > 3 else { return nil }
        self.init(usage: rdata[0], selector: rdata[1], matchingType: rdata[2], data: Array(rdata[3...]))
    }

    /// Whether an SMTP client can authenticate with it (RFC 7672 §3.1): DANE-TA(2) or DANE-EE(3), a
    /// known selector, and a digest of the right length. PKIX-TA(0) and PKIX-EE(1) are not used for
    /// SMTP, and a record with unknown parameters is ignored.
    public var isUsableForSMTP: Bool {
        guard usage == 2 || usage == 3, selector == 0 || selector == 1 else { return false }
        switch matchingType {
        case 0: return !data.isEmpty
        case 1: return data.count == 32
        case 2: return data.count == 64
        default: return false
        }
    }

    /// Presentation form, e.g. `3 1 1 2bb7...`.
    public var text: String {
        "\(usage) \(selector) \(matchingType) " + data.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}
