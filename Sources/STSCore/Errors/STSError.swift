/// An error as a value: a stable `kind` for programs and a `message` for people.
///
/// Stages never throw these across the process boundary; they write them into the record
/// (`{"kind": ..., "message": ...}`) and go on with the next one.
public struct STSError: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: ErrorKind
    public var message: String

    public init(_ kind: ErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    /// The JSON form used in every record: `{"kind": "...", "message": "..."}`.
    public var json: JSONValue {
        .object(["kind": .string(kind.rawValue), "message": .string(message)])
    }
}
