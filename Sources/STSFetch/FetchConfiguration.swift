/// How sts-fetch fetches policies.
public struct FetchConfiguration: Sendable, Equatable {
    /// Seconds to connect: name lookup, TCP and the TLS handshake.
    public var connectTimeout: Double
    /// Seconds for the whole transfer, connecting included.
    public var timeout: Double
    /// A CA bundle trusted instead of the system's.
    public var caFile: String?
    /// A hashed CA directory trusted instead of the system's.
    public var caPath: String?
    public var userAgent: String

    public static let version = "0.1"
    public static let defaultUserAgent = "sts-fetch/\(version) (MTA-STS policy fetcher; +https://www.rfc-editor.org/rfc/rfc8461)"
    /// RFC 8461 §3.3: senders may limit the policy to 64 KiB, and we do.
    public static let maxBodyBytes = 65536

    public init(connectTimeout: Double = 10, timeout: Double = 30, caFile: String? = nil, caPath: String? = nil, userAgent: String = defaultUserAgent) {
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.caFile = caFile
        self.caPath = caPath
        self.userAgent = userAgent
    }

    /// The policy's address for a normalised (A-label) policy domain.
    public static func policyURL(for domain: String) -> String {
        "https://\(policyHost(for: domain))/.well-known/mta-sts.txt"
    }

    public static func policyHost(for domain: String) -> String {
        "mta-sts.\(domain)"
    }
}
