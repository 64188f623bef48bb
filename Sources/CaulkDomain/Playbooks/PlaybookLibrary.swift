import Foundation

/// The playbooks a service can run: the built-in ones (`config/playbooks/`, compiled in) and
/// those in the operator's directories, which may not reuse a built-in name.
public struct PlaybookLibrary: Sendable {
    public let playbooks: [String: Playbook]

    /// Loads and validates everything at once, so a bad file stops the service at start-up with
    /// its file, line and field, not an audit hours later.
    public init(directories: [String] = []) throws(DomainError) {
        var playbooks: [String: Playbook] = [:]
        func add(_ playbook: Playbook) throws(DomainError) {
            if let existing = playbooks[playbook.name] {
                throw .invalidPlaybook(file: playbook.source, line: nil, field: "name", message: "'\(playbook.name)' is already defined by \(existing.source)")
            }
            playbooks[playbook.name] = playbook
        }
        for file in Embedded.files where file.name.hasSuffix(".yaml") {
            try add(PlaybookLoader.parse(file.contents, source: "built-in:\(file.name)"))
        }
        for directory in directories {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw .invalidPlaybook(file: directory, line: nil, field: nil, message: "cannot read the playbook directory: \(error.localizedDescription)")
            }
            for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                let path = (directory as NSString).appendingPathComponent(name)
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw .invalidPlaybook(file: path, line: nil, field: nil, message: "cannot read the file as UTF-8")
                }
                try add(PlaybookLoader.parse(text, source: path))
            }
        }
        self.playbooks = playbooks
    }

    public func playbook(_ name: String, kind: Playbook.Kind) throws(DomainError) -> Playbook {
        guard let playbook = playbooks[name] else {
            throw .notFound("no playbook named \(name); known: \(playbooks.keys.sorted().joined(separator: ", "))")
        }
        guard playbook.kind == kind else { throw .invalid(field: "playbook", message: "\(name) is a \(playbook.kind.rawValue) playbook, not an \(kind.rawValue)") }
        return playbook
    }
}
