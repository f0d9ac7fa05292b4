/// What the resolver said for one question, reduced to what the stages need.
public struct DNSAnswer: Sendable, Equatable {
    /// DNS response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...).
    public var rcode: Int32
    /// The RDATA of each record of the answer RRset, after any CNAMEs were followed.
    public var records: [[UInt8]]
    /// Seconds the answer may be cached.
    public var ttl: Int
    /// The name the data was found at, when CNAMEs were followed.
    public var canonicalName: String?
    /// DNSSEC validated the answer (or the proof of its absence). Only meaningful with a trust anchor.
    public var secure: Bool
    /// DNSSEC validation failed; `whyBogus` says why.
    public var bogus: Bool
    public var whyBogus: String?

    public init(rcode: Int32, records: [[UInt8]], ttl: Int, canonicalName: String? = nil, secure: Bool = false, bogus: Bool = false, whyBogus: String? = nil) {
        self.rcode = rcode
        self.records = records
        self.ttl = ttl
        self.canonicalName = canonicalName
        self.secure = secure
        self.bogus = bogus
        self.whyBogus = whyBogus
    }

    public static let noError: Int32 = 0
    public static let servFail: Int32 = 2
    public static let nxDomain: Int32 = 3

    /// The mnemonic of a response code, for messages.
    public static func rcodeName(_ rcode: Int32) -> String {
        switch rcode {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE\(rcode)"
        }
    }
}

/// DNS record types the stages ask for.
public enum DNSRecordType: Int32, Sendable {
    case a = 1
    case cname = 5
    case mx = 15
    case txt = 16
    case aaaa = 28
    case tlsa = 52
}
