import STSCore
import STSStage

/// The sts-parse stage: RFC 8461 §3.2 policy validation. Reads `fetch.body` (the policy text as
/// fetched) and adds `policy`:
///
///     {"status": "valid", "version": "STSv1", "mode": "enforce", "max_age": 86400, "mx": [...], "lines": [...]}
///     {"status": "error", "error": {"kind": "sts-policy-invalid", "message": "line 2: ..."}}
///
/// Records without a fetched body (no policy, fetch failed, fetch skipped) pass through untouched.
public struct ParseStage: RecordStage {
    public init() {}

    public func process(_ record: JSONObject) async -> JSONObject {
        guard let body = record["fetch"]?["body"]?.stringValue else { return record }
        var record = record
        record["policy"] = Self.evaluate(Array(body.utf8))
        return record
    }

    /// The `policy` value for a policy body.
    public static func evaluate(_ body: [UInt8]) -> JSONValue {
        do {
            return try PolicyParser.parse(body).json
        } catch {
            return ["status": "error", "error": error.json]
        }
    }
}
