import CYAML
import STSCore

/// Reads one YAML document into `YAMLNode`s with libyaml's event parser. Bounded: the text size,
/// the nesting depth, and the number of nodes (aliases count each time they are used, so an alias
/// bomb is refused rather than expanded).
public enum YAMLReader {
    public struct Failure: Error, Sendable, Equatable {
        public var line: Int
        public var message: String
    }

    public static let maxBytes = 1 << 20
    public static let maxDepth = 32
    public static let maxNodes = 100_000

    /// nil for an empty document.
    public static func read(_ text: [UInt8]) throws(Failure) -> YAMLNode? {
        guard text.count <= maxBytes else { throw Failure(line: 0, message: "the file is larger than \(maxBytes) bytes") }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw Failure(line: 0, message: "cannot initialise the YAML parser") }
        defer { yaml_parser_delete(&parser) }
        return try text.withUnsafeBufferPointer { buffer throws(Failure) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = Builder()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) != 0 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                    throw Failure(line: Int(parser.problem_mark.line) + 1, message: problem)
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(event)
            }
            return builder.root
        }
    }

    private struct Builder {
        enum Open {
            case sequence([YAMLNode], line: Int, anchor: String?)
            /// `merges`: the values of its `<<` keys, merged in when it closes.
            case mapping([(key: String, keyLine: Int, value: YAMLNode)], pendingKey: PendingKey?, merges: [YAMLNode], line: Int, anchor: String?)
        }

        struct PendingKey {
            var key: String
            var line: Int
            /// A plain `<<`: PyYAML's merge key (a quoted one is an ordinary key).
            var isMerge: Bool
        }

        var stack: [Open] = []
        var anchors: [String: (node: YAMLNode, size: Int)] = [:]
        var root: YAMLNode?
        var nodes = 0
        var documents = 0

        mutating func handle(_ event: yaml_event_t) throws(Failure) {
            let line = Int(event.start_mark.line) + 1
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 { throw Failure(line: line, message: "only one YAML document is allowed") }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let node = YAMLNode.scalar(value, plain: scalar.plain_implicit != 0, line: line)
                try add(node, size: 1, anchor: scalar.anchor.map { String(cString: $0) }, line: line)
            case YAML_ALIAS_EVENT:
                let name = String(cString: event.data.alias.anchor)
                guard let anchored = anchors[name] else { throw Failure(line: line, message: "unknown alias *\(name)") }
                try add(anchored.node, size: anchored.size, anchor: nil, line: line)
            case YAML_SEQUENCE_START_EVENT:
                try open(.sequence([], line: line, anchor: event.data.sequence_start.anchor.map { String(cString: $0) }), line: line)
            case YAML_MAPPING_START_EVENT:
                try open(.mapping([], pendingKey: nil, merges: [], line: line, anchor: event.data.mapping_start.anchor.map { String(cString: $0) }), line: line)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let closed = stack.removeLast()
                switch closed {
                case .sequence(let items, let start, let anchor):
                    try add(.sequence(items, line: start), size: 1, anchor: anchor, line: start, counted: true)
                case .mapping(let members, _, let merges, let start, let anchor):
                    try add(.mapping(Self.merging(merges, into: members), line: start), size: 1, anchor: anchor, line: start, counted: true)
                }
            default:
                break
            }
        }

        /// PyYAML's merge keys (`<<: *defaults`, or a list of them): the merged mappings' members that
        /// the mapping does not set itself, the earlier mapping of a list first, after its own members.
        static func merging(_ merges: [YAMLNode], into members: [(key: String, keyLine: Int, value: YAMLNode)]) throws(Failure)
            -> [(key: String, keyLine: Int, value: YAMLNode)]
        {
            var result = members
            var present = Set(members.map(\.key))
            for merge in merges {
                let sources: [YAMLNode]
                switch merge {
                case .mapping: sources = [merge]
                case .sequence(let items, _): sources = items
                case .scalar: throw Failure(line: merge.line, message: "<< must be a mapping or a list of mappings")
                }
                for source in sources {
                    guard case .mapping(let merged, _) = source else {
                        throw Failure(line: source.line, message: "<< must be a mapping or a list of mappings")
                    }
                    for member in merged where present.insert(member.key).inserted {
                        result.append(member)
                    }
                }
            }
            return result
        }

        mutating func open(_ container: Open, line: Int) throws(Failure) {
            guard stack.count < YAMLReader.maxDepth else { throw Failure(line: line, message: "nesting deeper than \(YAMLReader.maxDepth)") }
            nodes += 1
            guard nodes <= YAMLReader.maxNodes else { throw Failure(line: line, message: "more than \(YAMLReader.maxNodes) nodes") }
            stack.append(container)
        }

        mutating func add(_ node: YAMLNode, size: Int, anchor: String?, line: Int, counted: Bool = false) throws(Failure) {
            if !counted {
                nodes += size
                guard nodes <= YAMLReader.maxNodes else { throw Failure(line: line, message: "more than \(YAMLReader.maxNodes) nodes (aliases included)") }
            }
            if let anchor { anchors[anchor] = (node, node.nodeCount) }
            guard let top = stack.popLast() else {
                root = node
                return
            }
            switch top {
            case .sequence(var items, let start, let anchor):
                items.append(node)
                stack.append(.sequence(items, line: start, anchor: anchor))
            case .mapping(var members, let pendingKey, var merges, let start, let anchor):
                if let pending = pendingKey {
                    if pending.isMerge {
                        merges.append(node)
                    } else {
                        if members.contains(where: { $0.key == pending.key }) {
                            throw Failure(line: pending.line, message: "duplicate key \"\(pending.key)\"")
                        }
                        members.append((pending.key, pending.line, node))
                    }
                    stack.append(.mapping(members, pendingKey: nil, merges: merges, line: start, anchor: anchor))
                } else {
                    guard case .scalar(let key, let plain, let keyLine) = node else {
                        throw Failure(line: node.line, message: "a mapping key must be a plain value")
                    }
                    let pending = PendingKey(key: key, line: keyLine, isMerge: plain && key == "<<")
                    stack.append(.mapping(members, pendingKey: pending, merges: merges, line: start, anchor: anchor))
                }
            }
        }
    }
}
