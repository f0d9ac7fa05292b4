/// The stable, machine-readable kind of an error, as written in the `kind` field of every error record.
///
/// Where RFC 8460 (SMTP TLS Reporting) has a name for a failure we use it, so that audit output can be
/// compared with TLSRPT reports. The raw values are part of the stage contract: never rename one.
public enum ErrorKind: String, Sendable, CaseIterable, Codable {
    // Input handling (any stage).
    /// A line that is not a JSON object or a domain name, or that is too long.
    case invalidInput = "invalid-input"
    /// A domain name that cannot be a policy domain (bad syntax, bad IDN, too long, an IP literal).
    case invalidDomain = "invalid-domain"

    // DNS (sts-dns).
    /// The resolver answered SERVFAIL (including a DNSSEC validation failure it did not tell apart).
    case dnsServfail = "dns-servfail"
    /// No answer within the time allowed.
    case dnsTimeout = "dns-timeout"
    /// DNSSEC validation proved the answer bogus.
    case dnsBogus = "dns-bogus"
    /// Any other failure of the DNS lookup (REFUSED, FORMERR, resolver set-up).
    case dnsError = "dns-error"

    // Policy fetch and validation (RFC 8460 result types).
    /// The policy could not be fetched over HTTPS (connect, timeout, status, media type, size).
    case stsPolicyFetchError = "sts-policy-fetch-error"
    /// The fetched policy is not a valid RFC 8461 policy.
    case stsPolicyInvalid = "sts-policy-invalid"
    /// The policy host's certificate is not valid (untrusted, expired, wrong name).
    case stsWebPKIInvalid = "sts-webpki-invalid"

    /// A fault of ours, not of the domain: reported rather than crashing.
    case internalError = "internal-error"
    /// More lookups at once than the daemon's stages take: this one was refused at once rather than
    /// left to wait for room (the daemon's own, never in a stage's output).
    case overloaded = "overloaded"
}
