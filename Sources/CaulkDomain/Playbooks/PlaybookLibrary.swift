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
        try Self.checkReferences(playbooks)
        self.playbooks = playbooks
    }

    /// Every playbook a check or a composite repair names exists and is of the right kind.
    private static func checkReferences(_ playbooks: [String: Playbook]) throws(DomainError) {
        func require(_ name: String, _ kind: Playbook.Kind, from playbook: Playbook, field: String) throws(DomainError) {
            guard let target = playbooks[name], target.kind == kind else {
                throw .invalidPlaybook(file: playbook.source, line: nil, field: field, message: "'\(name)' is not a known \(kind.rawValue) playbook")
            }
            if kind == .repair, !target.repairs.isEmpty {
                throw .invalidPlaybook(file: playbook.source, line: nil, field: field, message: "'\(name)' chooses repairs itself; name the repairs it runs instead")
            }
        }
        for playbook in playbooks.values.sorted(by: { $0.name < $1.name }) {
            for check in playbook.checks {
                if let repair = check.repair, !repair.isEmpty, playbooks[repair]?.kind != .repair {
                    throw .invalidPlaybook(file: playbook.source, line: nil, field: "checks.\(check.id).repair", message: "'\(repair)' is not a known repair playbook")
                }
            }
            guard !playbook.repairs.isEmpty else { continue }
            guard let audit = playbook.audit else {
                throw .invalidPlaybook(file: playbook.source, line: nil, field: "audit", message: "a repair that chooses repairs needs the audit whose findings it reads")
            }
            try require(audit, .audit, from: playbook, field: "audit")
            for name in playbook.repairs { try require(name, .repair, from: playbook, field: "repairs") }
        }
    }

    public func playbook(_ name: String, kind: Playbook.Kind) throws(DomainError) -> Playbook {
        guard let playbook = playbooks[name] else {
            throw .notFound("no playbook named \(name); known: \(playbooks.keys.sorted().joined(separator: ", "))")
        }
        guard playbook.kind == kind else { throw .invalid(field: "playbook", message: "\(name) is a \(playbook.kind.rawValue) playbook, not an \(kind.rawValue)") }
        return playbook
    }
}
