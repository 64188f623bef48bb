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
        for (index, rawLine) in lines(text).enumerated() {
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
                inventory.setVars(AnsibleInventory.knownVariables.contains(key) ? [key: value] : [:], on: group, line: number)
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

    /// A host line's `key=value` words; only the variables caulk reads are kept.
    private static func assignments(_ words: ArraySlice<String>, line number: Int) throws(DomainError) -> [String: String] {
        var vars: [String: String] = [:]
        for word in words {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw .invalidInventory(line: number, field: nil, message: "'\(word)' is not key=value")
            }
            let key = String(word[..<equals])
            if AnsibleInventory.knownVariables.contains(key) { vars[key] = String(word[word.index(after: equals)...]) }
        }
        return vars
    }

    /// Expands a host's ranges `[a:b]` (numbers keep their zero padding), as Ansible does, to at
    /// most `maxHostsPerLine` hosts, counted before any is made.
    static func expand(_ pattern: String, line number: Int) throws(DomainError) -> [String] {
        guard pattern.contains("[") else { return [pattern] }
        guard pattern.utf8.count <= maxRangePattern else {
            throw .invalidInventory(line: number, field: nil, message: "host range '\(pattern.prefix(40))…' is longer than \(maxRangePattern) characters")
        }
        var hosts = [""]
        var rest = Substring(pattern)
        while let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]") {
            let values = try rangeValues(rest[rest.index(after: open)..<close], of: pattern, line: number, limit: maxHostsPerLine / hosts.count)
            let prefix = rest[..<open]
            hosts = hosts.flatMap { host in values.map { host + prefix + $0 } }
            rest = rest[rest.index(after: close)...]
        }
        return hosts.map { $0 + rest }
    }

    /// Longest host pattern with ranges: a DNS name is at most 253 characters.
    static let maxRangePattern = 255

    /// The values of one range, `01:20` or `a:f`, refused when there are more than `limit`.
    private static func rangeValues(_ range: Substring, of pattern: String, line number: Int, limit: Int) throws(DomainError) -> [String] {
        let bounds = range.split(separator: ":", omittingEmptySubsequences: false)
        let (low, high) = bounds.count == 2 ? (bounds[0], bounds[1]) : ("", "")
        let tooMany = DomainError.invalidInventory(line: number, field: nil, message: "host range '\(pattern)' expands to more than \(maxHostsPerLine) hosts")
        if isDigits(low), isDigits(high), let start = Int(low), let end = Int(high), start <= end {
            guard end - start < limit else { throw tooMany }
            return (start...end).map { let s = String($0); return String(repeating: "0", count: max(0, low.count - s.count)) + s }
        }
        if low.unicodeScalars.count == 1, high.unicodeScalars.count == 1, let a = low.unicodeScalars.first, let b = high.unicodeScalars.first,
            a <= b, CharacterSet.letters.contains(a)
        {
            guard Int(b.value - a.value) < limit else { throw tooMany }
            return (a.value...b.value).compactMap { Unicode.Scalar($0).map { String(Character($0)) } }
        }
        throw .invalidInventory(line: number, field: nil, message: "host range '\(pattern)' must look like [01:20] or [a:f]")
    }

    private static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// The file's lines, ending in `\n` or `\r\n` (one Character in Swift, so not split on "\n").
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
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
                    guard inventory.hostOrder.count <= AnsibleINI.maxHosts else {
                        throw hostValue.fail("the inventory holds more than \(AnsibleINI.maxHosts) hosts; split it into several imports")
                    }
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

    /// Scalar variables caulk reads, as strings; structured ones are not caulk's and are skipped.
    private static func variables(_ value: YAMLValue) throws(DomainError) -> [String: String] {
        var vars: [String: String] = [:]
        for (key, field) in try value.mapping() {
            if AnsibleInventory.knownVariables.contains(key), case .scalar = field.node, !field.isNull { vars[key] = try field.string() }
        }
        return vars
    }
}
