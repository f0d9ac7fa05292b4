/// A valid `_mta-sts` TXT record (RFC 8461 §3.1).
public struct STSRecord: Sendable, Equatable {
    /// The policy id: 1 to 32 letters and digits. A change tells senders to fetch the policy again.
    public var id: String
    /// Extension fields, in record order.
    public var extensions: [STSRecordExtension]
    /// The whole record as published (its strings joined).
    public var text: String

    public init(id: String, extensions: [STSRecordExtension] = [], text: String) {
        self.id = id
        self.extensions = extensions
        self.text = text
    }
}
