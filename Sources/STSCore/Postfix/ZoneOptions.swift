/// The per-zone choices that change how a policy is answered to Postfix (the `zones.<name>` keys of
/// the daemon's config, and sts-query's flags).
public struct ZoneOptions: Sendable, Equatable {
    /// Add `servername=hostname` (Postfix >= 3.4 sends SNI with the MX host name).
    public var requireSNI: Bool
    /// Enforce policies in `testing` mode too.
    public var strictTesting: Bool
    /// Add the TLSRPT attributes (Postfix >= 3.10; older versions reject them).
    public var tlsrpt: Bool

    public init(requireSNI: Bool = true, strictTesting: Bool = false, tlsrpt: Bool = false) {
        self.requireSNI = requireSNI
        self.strictTesting = strictTesting
        self.tlsrpt = tlsrpt
    }
}
