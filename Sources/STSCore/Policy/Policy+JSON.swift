/// The JSON form of a policy, as sts-parse writes it in `policy` and the cache stores it:
/// `{"status":"valid","version":"STSv1","mode":"enforce","max_age":86400,"mx":[...],"lines":[...]}`.
extension Policy {
    public var json: JSONValue {
        [
            "status": "valid",
            "version": .string(version),
            "mode": .string(mode.rawValue),
            "max_age": .int(maxAge),
            "mx": .array(mx.map { .string($0.pattern) }),
            "lines": .array(lines.map { .string($0) }),
        ]
    }

    /// Reads the JSON form back, checking every field again (it may come from a shared store or a
    /// pipeline we did not write): nil unless it is a policy sts-parse could have produced.
    public init?(json: JSONValue) {
        guard json["version"]?.stringValue == "STSv1",
            let mode = json["mode"]?.stringValue.flatMap(PolicyMode.init(rawValue:)),
            let maxAge = json["max_age"]?.intValue, (0...PolicyParser.maxAgeLimit).contains(maxAge),
            let mxValues = json["mx"]?.arrayValue, mxValues.count <= PolicyParser.maxMXPatterns
        else { return nil }
        var patterns: [MXPattern] = []
        for value in mxValues {
            guard let text = value.stringValue, let pattern = MXPattern(text), pattern.pattern == text else { return nil }
            if !patterns.contains(pattern) { patterns.append(pattern) }
        }
        guard mode == .none || !patterns.isEmpty else { return nil }
        let lines = json["lines"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard lines.allSatisfy(Policy.isPossibleLine) else { return nil }
        self.init(version: "STSv1", mode: mode, maxAge: maxAge, mx: patterns, lines: lines)
    }
}
