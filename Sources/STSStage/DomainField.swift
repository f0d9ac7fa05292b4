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
}
