/// What DNS says about DANE (RFC 7672) for a destination domain's MX hosts.
public enum DANEStatus: Sendable, Equatable {
    /// DNSSEC-validated MX records, and usable TLSA records for `withTLSA` of the `hosts`.
    case usable(hosts: [DANEHost], ttl: Int)
    /// DANE does not apply, proven: the MX records are not signed, no host has usable TLSA records,
    /// the domain does not exist or accepts no mail.
    case absent(reason: DANEAbsence, message: String, hosts: [DANEHost], ttl: Int)
    /// It could not be determined: a validation failure (bogus) or a DNS failure on the way.
    case undeterminable(STSError)

    /// Every MX host has usable TLSA records.
    public var coversAllHosts: Bool {
        guard case .usable(let hosts, _) = self else { return false }
        return hosts.allSatisfy { $0.tlsa == .usable }
    }

    /// Seconds the status may be relied on (the smallest TTL of the records it rests on).
    public var ttl: Int? {
        switch self {
        case .usable(_, let ttl), .absent(_, _, _, let ttl): ttl
        case .undeterminable: nil
        }
    }
}

/// Why DANE does not apply to a domain.
public enum DANEAbsence: String, Sendable, Equatable {
    /// The MX RRset (or the proof that there is none) is not DNSSEC-signed.
    case insecureMX = "insecure-mx"
    /// Signed MX records, but no host has a usable TLSA record.
    case noTLSA = "no-tlsa"
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    case nullMX = "null-mx"
    /// The domain does not exist (signed NXDOMAIN).
    case nxdomain
    /// No DNSSEC trust anchor is configured, so nothing can be proven either way.
    case noValidation = "no-validation"
}

/// One MX host and what its TLSA lookup (`_25._tcp.HOST`) found.
public struct DANEHost: Sendable, Equatable {
    public enum TLSAState: String, Sendable, Equatable {
        /// Signed TLSA records, at least one usable for SMTP.
        case usable
        /// Signed TLSA records, none usable (RFC 7672 §2.2: TLS without authentication for that host).
        case unusable
        /// Signed proof that there are none.
        case none
        /// The host's zone is not signed.
        case insecure
    }

    public var host: String
    public var tlsa: TLSAState
    public var records: [String]

    public init(host: String, tlsa: TLSAState, records: [String] = []) {
        self.host = host
        self.tlsa = tlsa
        self.records = records
    }
}
