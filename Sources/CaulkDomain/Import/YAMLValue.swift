import Yams

/// A YAML node with the path that led to it, so every complaint names the line and the field.
struct YAMLValue {
    let node: Yams.Node
    let path: String

    var line: Int? { node.mark?.line }

    static func parse(_ text: String) throws(DomainError) -> YAMLValue? {
        do {
            guard let node = try Yams.compose(yaml: text) else { return nil }
            return YAMLValue(node: node, path: "")
        } catch let error as YamlError {
            throw .invalidInventory(line: Self.line(of: error), field: nil, message: "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw .invalidInventory(line: nil, field: nil, message: "not valid YAML: \(error)")
        }
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
