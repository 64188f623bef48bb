import ArgumentParser
import CaulkAPI
import CaulkDomain
import CaulkServer
import CaulkStore
import Foundation

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Create, list and revoke API tokens (admin).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    static func table(_ tokens: [TokenInfo]) -> [[String]] {
        [["NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"]]
            + tokens.map { [$0.name, $0.role.rawValue, Output.date($0.createdAt), Output.date($0.lastUsedAt), Output.date($0.revokedAt)] }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token; its secret is printed once.",
            discussion: """
                Roles: viewer (read), operator (read, run audits and repairs), admin
                (everything). With --local the token is written straight into the database
                file, without the API: the way back in when every admin token is lost.
                """
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Token name (a DNS-1123 label), e.g. ci or alice.") var name: String
        @Option(help: "viewer, operator or admin.") var role: Role
        @Flag(help: "Write to the database directly instead of calling the API.") var local = false
        @Option(help: "With --local: the database file (default: as `caulk serve` would use).") var database: String?

        func run() async throws {
            let created: CreatedToken
            if local {
                let path = try database ?? ServerConfiguration.load(configFile: nil, environment: ProcessInfo.processInfo.environment).database
                let store = try Store.open(path: path)
                do {
                    created = try await TokenService(store: store).create(name: name, role: role)
                } catch let error as DomainError {
                    throw CLIError.failure(error.description)
                }
            } else {
                created = try await options.client().post("/v1/tokens", json: TokenInput(name: name, role: role), as: CreatedToken.self)
            }
            try options.out.emit(created) { created in
                [["token \(created.token.name) (\(created.token.role.rawValue)) created; its secret is shown only now:"], [created.secret]]
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var options: ClientOptions
        @Flag(help: "Include revoked tokens.") var all = false

        func run() async throws {
            let tokens = try await options.client().all(
                "/v1/tokens", query: all ? [("include_revoked", "true")] : [], limit: nil, as: TokenInfo.self)
            try options.out.emit(tokens, table: TokensCommand.table)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; it stops working at once.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Token name.") var name: String

        func run() async throws {
            let token = try await options.client().delete("/v1/tokens/\(segment(name))")
            if options.output == .table {
                print("token \(name) revoked")
            } else {
                try options.out.emit(try JSONCoding.decoder().decode(TokenInfo.self, from: token)) { _ in [] }
            }
        }
    }
}
