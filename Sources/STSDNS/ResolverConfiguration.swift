/// How the DNS stage reaches DNS.
public struct ResolverConfiguration: Sendable, Equatable {
    /// Recursive resolvers to ask, each `ADDRESS` or `ADDRESS@PORT`. Empty: the system's, from `resolvConf`.
    public var forwarders: [String]
    /// The resolv.conf to read when there are no forwarders.
    public var resolvConf: String
    /// A DNSSEC trust anchor file (DS or DNSKEY records). With one, answers are validated and a bogus
    /// answer is an error; without, nothing is validated and nothing is reported as secure.
    public var trustAnchorFile: String?
    /// How long one question may take before it is answered `dns-timeout`.
    public var timeout: Duration

    public init(forwarders: [String] = [], resolvConf: String = "/etc/resolv.conf", trustAnchorFile: String? = nil, timeout: Duration = .seconds(10)) {
        self.forwarders = forwarders
        self.resolvConf = resolvConf
        self.trustAnchorFile = trustAnchorFile
        self.timeout = timeout
    }
}
