/// A YAML node with the line it started on, so that config errors can point at the file.
public indirect enum YAMLNode: Sendable, Equatable {
    /// A scalar; `plain` is false when it was quoted (a quoted "true" is a string, not a boolean).
    case scalar(String, plain: Bool, line: Int)
    case sequence([YAMLNode], line: Int)
    /// Members in file order.
    case mapping([(key: String, keyLine: Int, value: YAMLNode)], line: Int)

    public var line: Int {
        switch self {
        case .scalar(_, _, let line), .sequence(_, let line), .mapping(_, let line): line
        }
    }

    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case let (.scalar(a, pa, la), .scalar(b, pb, lb)): a == b && pa == pb && la == lb
        case let (.sequence(a, la), .sequence(b, lb)): a == b && la == lb
        case let (.mapping(a, la), .mapping(b, lb)):
            la == lb && a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.keyLine == $1.keyLine && $0.value == $1.value }
        default: false
        }
    }

    /// How many nodes this one stands for, itself included: what an alias to it costs.
    var nodeCount: Int {
        switch self {
        case .scalar: 1
        case .sequence(let items, _): items.reduce(1) { $0 + $1.nodeCount }
        case .mapping(let members, _): members.reduce(1) { $0 + $1.value.nodeCount }
        }
    }

    /// What kind of node this is, for messages.
    public var kindName: String {
        switch self {
        case .scalar: "a value"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}
