import ArgumentParser
import CaulkAPI
import Foundation

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Check a server URL and token, then save them for later commands.",
        discussion: """
            Writes $XDG_CONFIG_HOME/caulk/config.yaml (default ~/.config/caulk/config.yaml), mode 0600:
            the URL, the token, and --ca-file, --client-cert and --client-key when given.
            """
    )
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let client = try options.client()
        guard client.token != nil else { throw CLIError.usage("give the token with --token or CAULK_TOKEN") }
        let identity = try await client.get("/v1/whoami", as: Identity.self)
        let path = try CLIConfig(
            url: client.baseURL, token: client.token, caFile: client.tls.caFile, clientCert: client.tls.certificate, clientKey: client.tls.key
        ).save()
        print("logged in to \(client.baseURL) as \(identity.name) (\(identity.role.rawValue)); saved to \(path)")
    }
}

struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the token's name, role, exec right, clusters and expiry.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let identity = try await options.client().get("/v1/whoami", as: Identity.self)
        try options.out.emit(identity) {
            [["NAME", "ROLE", "EXEC", "CLUSTERS", "EXPIRES"],
             [$0.name, $0.role.rawValue, $0.exec ? "yes" : "no", $0.clusters?.joined(separator: ",") ?? "all", Output.date($0.expiresAt)]]
        }
    }
}
