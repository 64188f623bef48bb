import ArgumentParser
import Foundation

/// `caulk`: the service (`caulk serve`) and its command-line client (everything else).
public struct CaulkCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "caulk",
        abstract: "Keep Calico VXLAN networking alive across node reboots, fleet-wide.",
        discussion: """
            `caulk serve` runs the service. Every other command is a client of its REST
            API: server URL and token come from --url/--token, CAULK_URL/CAULK_TOKEN, or
            the file `caulk login` writes (~/.config/caulk/config.yaml).

            Exit codes: 0 success, 1 failure (the server's message is printed), 2 usage
            error.
            """,
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, ClustersCommand.self, NodesCommand.self, InventoryCommand.self, ExecCommand.self,
            AuditCommand.self, RepairCommand.self, AutoRepairCommand.self, HealthCommand.self, RebootsCommand.self, ReportCommand.self, SchedulesCommand.self, BeaconCommand.self, PlaybooksCommand.self,
            RunsCommand.self, TokensCommand.self, ActivityCommand.self, NotifyCommand.self, AdminCommand.self, LoginCommand.self, WhoamiCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line with caulk's exit codes: 0 ok, 1 failure, 2 usage.
    public static func run(arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("caulk: \(error)\n".utf8))
            return error.exitCode
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                return 0
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            // ArgumentParser reports usage errors as EX_USAGE (64); caulk promises 2.
            return code == .validationFailure ? 2 : code.rawValue
        }
    }
}

/// `--url`, `--token`, `-o`: shared by every client command.
struct ClientOptions: ParsableArguments {
    @Option(help: "caulk server URL (default: CAULK_URL, the config file, or \(CLIConfig.defaultURL)).")
    var url: String?

    @Option(help: "Bearer token (default: CAULK_TOKEN or the config file).")
    var token: String?

    @Option(help: ArgumentHelp("HTTPS: trust the server's certificate if this CA (PEM) signed it (default: CAULK_CA_FILE, the config file, or the system's CAs).", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp("HTTPS with client certificates: this client's certificate (PEM; default CAULK_CLIENT_CERT or the config file).", valueName: "file"))
    var clientCert: String?

    @Option(help: ArgumentHelp("The client certificate's private key (PEM; default CAULK_CLIENT_KEY or the config file).", valueName: "file"))
    var clientKey: String?

    @Option(name: .shortAndLong, help: "Output format: table, json, yaml or csv (the table as RFC 4180 CSV).")
    var output: OutputFormat = .table

    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let file = try CLIConfig.load(environment: environment)
        func setting(_ flag: String?, _ variable: String, _ saved: String?) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 } ?? saved
        }
        let url = setting(url, "CAULK_URL", file.url) ?? CLIConfig.defaultURL
        let tls = ClientTLS(
            caFile: setting(caFile, "CAULK_CA_FILE", file.caFile), certificate: setting(clientCert, "CAULK_CLIENT_CERT", file.clientCert),
            key: setting(clientKey, "CAULK_CLIENT_KEY", file.clientKey))
        return APIClient(baseURL: url, token: setting(token, "CAULK_TOKEN", file.token), tls: tls)
    }

    var out: Output { Output(format: output) }
}

/// A `key=value` argument (labels, selectors).
struct KeyValue: ExpressibleByArgument {
    let key: String
    let value: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
        key = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
    }

    var text: String { "\(key)=\(value)" }
}

/// Percent-encodes one path segment (names are validated server-side; this keeps odd input from
/// changing which route is hit).
func segment(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
}
