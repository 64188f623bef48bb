import CYaml
import Yams

/// A YAML node with the path that led to it, so every complaint names the line and the field.
struct YAMLValue {
    let node: Yams.Node
    let path: String

    var line: Int? { node.mark?.line }

    /// Nodes a file may expand to, each alias counted as the nodes it repeats: nine levels of
    /// nine aliases ("billion laughs") are a few hundred bytes that expand to 9^9 nodes. A
    /// caulk inventory of 50,000 nodes is about 650,000.
    static let maxNodes = 1_000_000
    /// How deep collections may nest: Yams builds and hashes the tree recursively.
    static let maxDepth = 100

    static func parse(_ text: String) throws(DomainError) -> YAMLValue? {
        try checkSize(text)
        do {
            guard let node = try Yams.compose(yaml: text) else { return nil }
            return YAMLValue(node: node, path: "")
        } catch let error as YamlError {
            throw .invalidInventory(line: Self.line(of: error), field: nil, message: "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw .invalidInventory(line: nil, field: nil, message: "not valid YAML: \(error)")
        }
    }

    /// Refuses a file past `maxNodes` or `maxDepth` from libyaml's events, before Yams builds a
    /// tree: Yams hashes every mapping key while composing, so an alias used as a key would be
    /// walked in full there. Syntax errors are left for Yams to report.
    static func checkSize(_ text: String) throws(DomainError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        let refusal: DomainError? = bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var nodes = 0
            var anchors: [String: Int] = [:]
            var open: [(anchor: String?, start: Int)] = []
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_SCALAR_EVENT:
                    nodes += 1
                    if let anchor = name(event.data.scalar.anchor) { anchors[anchor] = 1 }
                case YAML_ALIAS_EVENT:
                    nodes += name(event.data.alias.anchor).flatMap { anchors[$0] } ?? 1
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                    open.append((name(anchor), nodes))
                    nodes += 1
                    guard open.count <= maxDepth else {
                        return .invalidInventory(line: line, field: nil, message: "the file nests YAML collections more than \(maxDepth) levels deep; caulk refuses it: flatten it")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if let closed = open.popLast(), let anchor = closed.anchor { anchors[anchor] = nodes - closed.start }
                default:
                    break
                }
                guard nodes <= maxNodes else {
                    return .invalidInventory(line: line, field: nil, message: "the file expands to more than \(maxNodes) YAML nodes (aliases included, each time they are used); caulk refuses it: use fewer aliases or split the file")
                }
            }
            return nil
        }
        if let refusal { throw refusal }
    }

    private static func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        anchor.map { String(cString: $0) }
    }

    func fail(_ message: String) -> DomainError {
        .invalidInventory(line: line, field: path.isEmpty ? nil : path, message: message)
    }

    func child(_ key: String, _ node: Yams.Node) -> YAMLValue {
        YAMLValue(node: node, path: path.isEmpty ? key : "\(path).\(key)")
    }

    var isNull: Bool {
        if case .scalar(let scalar) = node { return node.null != nil || (scalar.string.isEmpty && scalar.style == .plain) }
        return false
    }

    /// The entries of a mapping, in file order; keys outside `allowed` are refused.
    func mapping(allowed: Set<String>? = nil) throws(DomainError) -> [(key: String, value: YAMLValue)] {
        guard case .mapping(let mapping) = node else {
            if isNull { return [] }
            throw fail("expected a mapping (key: value)")
        }
        var seen: Set<String> = []
        var entries: [(key: String, value: YAMLValue)] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else { throw fail("keys must be strings") }
            let value = child(key, valueNode)
            if let allowed, !allowed.contains(key) {
                throw YAMLValue(node: keyNode, path: value.path)
                    .fail("unknown key '\(key)'; expected one of: \(allowed.sorted().joined(separator: ", "))")
            }
            guard seen.insert(key).inserted else { throw value.fail("'\(key)' is given twice") }
            entries.append((key, value))
        }
        return entries
    }

    func sequence() throws(DomainError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else {
            if isNull { return [] }
            throw fail("expected a list")
        }
        return sequence.enumerated().map { YAMLValue(node: $1, path: "\(path)[\($0)]") }
    }

    func string() throws(DomainError) -> String {
        guard case .scalar(let scalar) = node else { throw fail("expected a single value") }
        return scalar.string
    }

    func int() throws(DomainError) -> Int {
        guard let value = Int(try string()) else { throw fail("expected a whole number") }
        return value
    }

    /// A mapping of strings to strings (label sets, Ansible variables).
    func stringMap() throws(DomainError) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in try mapping() {
            result[key] = value.isNull ? "" : try value.string()
        }
        return result
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            mark.line
        case .duplicatedKeysInMapping(_, let context):
            context.mark.line
        default:
            nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
            [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        case .duplicatedKeysInMapping(let duplicates, _):
            "duplicated keys: " + duplicates.joined(separator: ", ")
        default:
            "\(error)"
        }
    }
}
