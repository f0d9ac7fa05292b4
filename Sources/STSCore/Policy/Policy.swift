/// A validated MTA-STS policy (RFC 8461 §3.2).
public struct Policy: Sendable, Equatable {
    /// Always `STSv1`.
    public var version: String
    public var mode: PolicyMode
    /// Seconds the policy may be cached: 0 to 31557600 (`PolicyParser.maxAgeLimit`).
    public var maxAge: Int
    /// The mx patterns in policy order, duplicates removed.
    public var mx: [MXPattern]
    /// The policy's lines as published, without line ends, unknown keys included: TLSRPT's
    /// `policy-string` (RFC 8460).
    public var lines: [String]

    public init(version: String = "STSv1", mode: PolicyMode, maxAge: Int, mx: [MXPattern], lines: [String] = []) {
        self.version = version
        self.mode = mode
        self.maxAge = maxAge
        self.mx = mx
        self.lines = lines
    }
}
