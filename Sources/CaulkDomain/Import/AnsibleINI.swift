import Foundation

/// Parser for Ansible's INI inventory format: `[group]` host lines with `key=value` variables,
/// `[group:vars]` and `[group:children]` sections, numeric and alphabetic host ranges
/// (`node[01:20]`, `db-[a:c]`), `#` and `;` comments.
enum AnsibleINI {
    /// Hosts one line's ranges may expand to, and hosts one file may hold: an import is a request
    /// like any other and must not exhaust the server (`h[0:99999][0:99999]` is 10^10 hosts).
    static let maxHostsPerLine = 10_000
    static let maxHosts = 50_000

    static func parse(_ text: String) throws(DomainError) -> AnsibleInventory {
        var inventory = AnsibleInventory()
        enum Section { case hosts(String), vars(String), children(String) }
        var section = Section.hosts("ungrouped")
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw .invalidInventory(line: number, field: nil, message: "a section header must end with ']'") }
                let header = line.dropFirst().dropLast()
                let parts = header.split(separator: ":", maxSplits: 1).map(String.init)
                guard let name = parts.first, isGroupName(name) else {
                    throw .invalidInventory(line: number, field: nil, message: "'\(header)' is not a group name (letters, digits, '_' and '-')")
                }
                switch parts.count == 2 ? parts[1] : nil {
                case nil: section = .hosts(name)
                case "vars": section = .vars(name)
                case "children": section = .children(name)
                case let other?: throw .invalidInventory(line: number, field: nil, message: "unknown section kind ':\(other)'; expected :vars or :children")
                }
                inventory.group(name, line: number)
                continue
            }
            switch section {
            case .hosts(let group):
                let words = try split(line, line: number)
                let vars = try assignments(words.dropFirst(), line: number)
                for host in try expand(words[0], line: number) {
                    inventory.addHost(host, to: group, vars: vars, line: number)
                }
                guard inventory.hostOrder.count <= maxHosts else {
                    throw .invalidInventory(line: number, field: nil, message: "the inventory holds more than \(maxHosts) hosts; split it into several imports")
                }
            case .vars(let group):
                guard let equals = line.firstIndex(of: "=") else {
                    throw .invalidInventory(line: number, field: nil, message: "expected key=value in [\(group):vars]")
                }
                let key = line[..<equals].trimmingCharacters(in: .whitespaces)
                let value = try unquote(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces), line: number)
                inventory.setVars([key: value], on: group, line: number)
            case .children(let group):
                guard isGroupName(line) else { throw .invalidInventory(line: number, field: nil, message: "'\(line)' is not a group name") }
                inventory.addChild(line, to: group, line: number)
            }
        }
        return inventory
    }

    static func isGroupName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" }
    }

    /// Splits on whitespace, honouring single and double quotes.
    static func split(_ line: String, line number: Int) throws(DomainError) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(current); current = ""; inWord = false }
            } else if character == "#" && !inWord {
                break
            } else {
                current.append(character)
                inWord = true
            }
        }
        guard quote == nil else { throw .invalidInventory(line: number, field: nil, message: "unterminated quote") }
        if inWord { words.append(current) }
        return words
    }

    private static func unquote(_ value: String, line number: Int) throws(DomainError) -> String {
        let words = try split(value, line: number)
        return words.joined(separator: " ")
    }

    private static func assignments(_ words: ArraySlice<String>, line number: Int) throws(DomainError) -> [String: String] {
        var vars: [String: String] = [:]
        for word in words {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw .invalidInventory(line: number, field: nil, message: "'\(word)' is not key=value")
            }
            vars[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        return vars
    }

    /// Expands one host range `[a:b]` (numbers keep their zero padding), as Ansible does, to at
    /// most `limit` hosts.
    static func expand(_ pattern: String, line number: Int, limit: Int = maxHostsPerLine) throws(DomainError) -> [String] {
        guard let open = pattern.firstIndex(of: "["), let close = pattern.firstIndex(of: "]"), open < close else {
            return [pattern]
        }
        let prefix = pattern[..<open]
        let suffix = pattern[pattern.index(after: close)...]
        let bounds = pattern[pattern.index(after: open)..<close].split(separator: ":", omittingEmptySubsequences: false)
        guard bounds.count == 2 else { throw .invalidInventory(line: number, field: nil, message: "host range '\(pattern)' must look like [01:20] or [a:f]") }
        let (low, high) = (String(bounds[0]), String(bounds[1]))
        var values: [String] = []
        if let start = Int(low), let end = Int(high), start <= end, end - start < 100_000 {
            let width = low.count
            values = (start...end).map { let s = String($0); return String(repeating: "0", count: max(0, width - s.count)) + s }
        } else if low.count == 1, high.count == 1, let a = low.unicodeScalars.first?.value, let b = high.unicodeScalars.first?.value,
            a <= b, CharacterSet.letters.contains(low.unicodeScalars.first!)
        {
            values = (a...b).compactMap { Unicode.Scalar($0).map { String(Character($0)) } }
        } else {
            throw .invalidInventory(line: number, field: nil, message: "host range '\(pattern)' must look like [01:20] or [a:f]")
        }
        guard values.count <= limit else {
            throw .invalidInventory(line: number, field: nil, message: "host range '\(pattern)' expands to more than \(maxHostsPerLine) hosts")
        }
        var hosts: [String] = []
        for value in values { hosts += try expand(prefix + value + suffix, line: number, limit: limit / values.count) }
        return hosts
    }
}

/// Parser for Ansible's YAML inventory format: nested groups with `hosts`, `vars` and `children`.
enum AnsibleYAML {
    static func parse(_ root: YAMLValue) throws(DomainError) -> AnsibleInventory {
        var inventory = AnsibleInventory()
        for (name, value) in try root.mapping() {
            try group(name, value, parent: nil, into: &inventory)
        }
        return inventory
    }

    private static func group(_ name: String, _ value: YAMLValue, parent: String?, into inventory: inout AnsibleInventory) throws(DomainError) {
        guard AnsibleINI.isGroupName(name) else { throw value.fail("'\(name)' is not a group name") }
        inventory.group(name, line: value.line)
        if let parent { inventory.addChild(name, to: parent, line: value.line) }
        for (key, field) in try value.mapping(allowed: ["hosts", "vars", "children"]) {
            switch key {
            case "hosts":
                for (host, hostValue) in try field.mapping() {
                    inventory.addHost(host, to: name, vars: try variables(hostValue), line: hostValue.line)
                }
            case "vars":
                inventory.setVars(try variables(field), on: name, line: field.line)
            default:
                for (child, childValue) in try field.mapping() {
                    try group(child, childValue, parent: name, into: &inventory)
                }
            }
        }
    }

    /// Scalar variables as strings; structured ones are not caulk's and are skipped.
    private static func variables(_ value: YAMLValue) throws(DomainError) -> [String: String] {
        var vars: [String: String] = [:]
        for (key, field) in try value.mapping() {
            if case .scalar = field.node, !field.isNull { vars[key] = try field.string() }
        }
        return vars
    }
}
