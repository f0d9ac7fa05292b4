/// What the policy asks of senders (RFC 8461 §5).
public enum PolicyMode: String, Sendable, CaseIterable {
    /// Deliver only over TLS to a matching, authenticated MX.
    case enforce
    /// Report failures, deliver anyway.
    case testing
    /// No policy; replaces any cached one at once.
    case none
}
