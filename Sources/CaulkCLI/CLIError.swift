/// How a CLI run fails, and so which exit code it ends with.
enum CLIError: Error, CustomStringConvertible {
    /// The command line itself is wrong (exit 2).
    case usage(String)
    /// The server refused or failed; `message` is the server's own (exit 1).
    case server(status: Int, message: String)
    /// Anything else that went wrong (exit 1).
    case failure(String)

    var description: String {
        switch self {
        case .usage(let message), .failure(let message): message
        case .server(let status, let message): "\(message) (HTTP \(status))"
        }
    }

    var exitCode: Int32 {
        if case .usage = self { return 2 }
        return 1
    }
}
