/// A valid `_mta-sts` TXT record (RFC 8461 §3.1).
public struct STSRecord: Sendable, Equatable {
    /// The policy id: 1 to 32 letters and digits.
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

/// An extension field of an STS TXT record: `name=value`.
public struct STSRecordExtension: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
