/// RFC 8461 §2: MTA-STS must not override DANE. Where the destination's MX hosts publish
/// DNSSEC-validated TLSA records, Postfix is told to use DANE (it does the TLSA lookups and the
/// certificate matching itself); only where DANE is proven absent does the MTA-STS answer stand.
public enum DANEPrecedence {
    /// What overrides the MTA-STS answer, or nil when the MTA-STS answer stands.
    public enum Override: Sendable, Equatable {
        /// `dane-only`: every MX host has usable TLSA records; mail goes only over DANE-verified TLS.
        case daneOnly
        /// `dane`: some hosts have usable TLSA records; Postfix authenticates those with DANE.
        case dane
        /// DANE could not be determined (bogus or failed lookups): defer rather than guess.
        case temporaryFailure(String)

        public var reply: SocketmapReply {
            switch self {
            case .daneOnly: .ok("dane-only")
            case .dane: .ok("dane")
            case .temporaryFailure(let why): .temp(why)
            }
        }
    }

    public static func override(for status: DANEStatus) -> Override? {
        switch status {
        case .usable:
            return status.coversAllHosts ? .daneOnly : .dane
        case .absent:
            return nil
        case .undeterminable(let error):
            return .temporaryFailure("DANE status unknown: \(error.message)")
        }
    }
}
