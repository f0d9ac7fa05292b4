import STSCore

/// RFC 8461 §3.3: the policy's media type must be `text/plain`; parameters (such as a charset) are allowed.
public enum MediaType {
    /// True when the type/subtype before any parameters is `text/plain` (case-insensitive, RFC 9110
    /// §8.3.1), with optional white space around it.
    public static func isTextPlain(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let essence = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return essence.trimming(" \t").lowercased() == "text/plain"
    }
}
