/// How sts-fetch fetches policies.
public struct FetchConfiguration: Sendable, Equatable {
    /// Seconds to connect (TCP and TLS).
    public var connectTimeout: Double
    /// Seconds for the whole transfer.
    public var timeout: Double
    /// A CA bundle to use instead of the system's.
    public var caFile: String?
    /// A hashed CA directory to use instead of the system's.
    public var caPath: String?
    public var userAgent: String

    public static let defaultUserAgent = "sts-fetch/1.0 (MTA-STS policy fetcher; RFC 8461)"
    /// RFC 8461 §3.3: senders may limit the policy to 64 KiB.
    public static let maxBodyBytes = 65536

    public init(connectTimeout: Double = 10, timeout: Double = 30, caFile: String? = nil, caPath: String? = nil, userAgent: String = defaultUserAgent) {
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.caFile = caFile
        self.caPath = caPath
        self.userAgent = userAgent
    }

    public static func policyURL(for domain: String) -> String {
        "https://mta-sts.\(domain)/.well-known/mta-sts.txt"
    }
}
