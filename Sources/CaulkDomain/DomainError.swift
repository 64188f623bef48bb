/// Everything the domain refuses, in terms a caller can act on. The API maps each case to one
/// HTTP status in one place; the CLI prints `description`.
public enum DomainError: Error, Equatable, CustomStringConvertible {
    /// A request field is missing or malformed (400).
    case invalid(field: String, message: String)
    /// An inventory file cannot be imported; `line` is 1-based when known (400).
    case invalidInventory(line: Int?, field: String?, message: String)
    /// A playbook file is not valid; `line` is 1-based when known (422).
    case invalidPlaybook(file: String, line: Int?, field: String?, message: String)
    /// The thing named does not exist (404).
    case notFound(String)
    /// The request clashes with what exists (409).
    case conflict(String)

    public var description: String {
        switch self {
        case .invalid(let field, let message):
            "\(field): \(message)"
        case .invalidInventory(let line, let field, let message):
            [line.map { "line \($0)" }, field].compactMap { $0 }.joined(separator: ", ")
                + (line == nil && field == nil ? "" : ": ") + message
        case .invalidPlaybook(let file, let line, let field, let message):
            [file, line.map { "line \($0)" }, field].compactMap { $0 }.joined(separator: ", ") + ": " + message
        case .notFound(let message), .conflict(let message):
            message
        }
    }

    /// The same error with its field placed under `prefix` (`clusters[2].` + `name`).
    func nested(under prefix: String, line: Int?) -> DomainError {
        switch self {
        case .invalid(let field, let message):
            .invalidInventory(line: line, field: prefix + field, message: message)
        default:
            self
        }
    }
}
