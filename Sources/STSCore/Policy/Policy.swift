/// A validated MTA-STS policy (RFC 8461 §3.2).
public struct Policy: Sendable, Equatable {
    /// Always `STSv1`.
    public var version: String
    public var mode: PolicyMode
    /// Seconds the policy may be cached: 0 to 31557600 (`PolicyParser.maxAgeLimit`).
    public var maxAge: Int
    /// The mx patterns in policy order, duplicates removed.
    public var mx: [MXPattern]
    /// The lines joined by line feeds, which no line holds: one allocation per cached policy rather than
    /// an array and one per line (a daemon keeps up to `cache_size` of these in memory).
    private var joinedLines: String

    /// The policy's lines as published, without line ends, unknown keys included: TLSRPT's
    /// `policy-string` (RFC 8460). A line may not hold a line feed.
    public var lines: [String] {
        get {
            // Split on the line-feed byte: the Character-wise split was a fifth of sts-parse's work.
            guard !joinedLines.isEmpty else { return [] }
            var lines: [String] = []
            var joined = joinedLines
            joined.withUTF8 { bytes in
                var start = 0
                for index in bytes.indices where bytes[index] == 0x0A {
                    lines.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
                    start = index + 1
                }
                lines.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self))
            }
            return lines
        }
        set {
            precondition(!newValue.contains { $0.utf8.contains(0x0A) }, "a policy line holds a line feed")
            joinedLines = newValue.joined(separator: "\n")
        }
    }

    public init(version: String = "STSv1", mode: PolicyMode, maxAge: Int, mx: [MXPattern], lines: [String] = []) {
        self.version = version
        self.mode = mode
        self.maxAge = maxAge
        self.mx = mx
        self.joinedLines = ""
        self.lines = lines
    }

    /// Whether `line` can be a policy line: not empty, no line end, no NUL (the parser splits at line
    /// feeds, skips blank lines and refuses carriage returns and NULs inside a line).
    public static func isPossibleLine(_ line: String) -> Bool {
        !line.isEmpty && !line.utf8.contains { $0 == 0x0A || $0 == 0x0D || $0 == 0 }
    }
}
