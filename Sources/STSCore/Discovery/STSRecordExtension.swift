/// An extension field of an STS TXT record, `name=value` (RFC 8461 §3.1 `sts-extension`).
public struct STSRecordExtension: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
