import STSCore

/// The `domain` key every stage starts from, read and normalised the one way the whole pipeline shares.
public enum DomainField {
    public static func normalized(in record: JSONObject) -> Result<String, STSError> {
        guard let value = record["domain"] else {
            return .failure(STSError(.invalidInput, "the record has no \"domain\""))
        }
        guard let text = value.stringValue else {
            return .failure(STSError(.invalidInput, "\"domain\" must be a string"))
        }
        do {
            return .success(try DomainName.normalize(text))
        } catch {
            return .failure(error)
        }
    }

    /// The normalised domain; or nil, after writing the reason into the record's top-level `error`
    /// (what every stage does with a record it cannot use).
    public static func require(in record: inout JSONObject) -> String? {
        switch normalized(in: record) {
        case .success(let name):
            return name
        case .failure(let error):
            record["error"] = error.json
            return nil
        }
    }
}
