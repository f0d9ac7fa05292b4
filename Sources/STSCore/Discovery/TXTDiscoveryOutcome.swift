/// What the TXT RRset at `_mta-sts.<domain>` says: a policy to fetch, or no policy and why.
public enum TXTDiscoveryOutcome: Sendable, Equatable {
    case found(STSRecord)
    case none(NoPolicyReason, message: String)
}
