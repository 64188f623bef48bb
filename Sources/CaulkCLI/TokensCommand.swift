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
        [["NAME", "ROLE", "EXEC", "CLUSTERS", "CREATED", "EXPIRES", "LAST USED", "REVOKED"]]
            + tokens.map {
                [$0.name, $0.role.rawValue, $0.exec ? "yes" : "no", $0.clusters?.joined(separator: ",") ?? "all", Output.date($0.createdAt),
                 Output.date($0.expiresAt), Output.date($0.lastUsedAt), Output.date($0.revokedAt)]
            }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token; its secret is printed once.",
            discussion: """
                Roles: viewer (read), operator (read, run audits and repairs), admin
                (everything). Running any command on nodes (caulk exec) is a right of its own:
                admins have it, an operator token only with --exec. With --ttl the token stops
                working after that long (90m, 12h, 30d, 8w) and says so when used. With
                --clusters a viewer or operator token reaches only those clusters: elsewhere it
                is refused (403), lists and reports show only them, `audit --all` audits them,
                and it cannot make fleet-wide schedules or open the dashboard.

                With --local the token is written straight into the database file, without
                the API: the way back in when every admin token is lost or expired.

                Examples:
                  caulk tokens create ci --role operator --ttl 30d
                  caulk tokens create alice --role operator --exec --ttl 12h
                  caulk tokens create team-a --role operator --clusters prod-a,stage-a
                """
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Token name (a DNS-1123 label), e.g. ci or alice.") var name: String
        @Option(help: "viewer, operator or admin.") var role: Role
        @Flag(help: "Operator only: may also run any command on nodes (caulk exec).") var exec = false
        @Option(help: ArgumentHelp("Expire after this long: 90m, 12h, 30d, 8w (default: never).", valueName: "span")) var ttl: String?
        @Option(help: ArgumentHelp("Viewer or operator only: reach only these clusters (comma-separated).", valueName: "names")) var clusters: String?
        @Flag(help: "Write to the database directly instead of calling the API.") var local = false
        @Option(help: "With --local: the database file (default: as `caulk serve` would use).") var database: String?

        func run() async throws {
            var input = TokenInput(name: name, role: role, exec: exec ? true : nil, clusters: clusters.map { $0.split(separator: ",").map(String.init) })
            if let ttl {
                guard let seconds = Span.seconds(ttl) else { throw CLIError.usage("--ttl '\(ttl)' is not a length of time; write 90m, 12h, 30d or 8w") }
                input.ttlSeconds = seconds
            }
            let created: CreatedToken
            if local {
                let path = try database ?? ServerConfiguration.load(configFile: nil, environment: ProcessInfo.processInfo.environment).database
                let store = try Store.open(path: path)
                do {
                    created = try await TokenService(store: store).create(input, by: "local")
                } catch let error as DomainError {
                    throw CLIError.failure(error.description)
                }
            } else {
                created = try await options.client().post("/v1/tokens", json: input, as: CreatedToken.self)
            }
            try options.out.emit(created) { created in
                let token = created.token
                let rights = token.role.rawValue + (token.role == .operator && token.exec ? ", exec" : "")
                    + (token.clusters.map { ", only \($0.joined(separator: ", "))" } ?? "")
                let expiry = token.expiresAt.map { "; it expires \(Output.date($0)) UTC" } ?? ""
                return [["token \(token.name) (\(rights)) created\(expiry); its secret is shown only now:"], [created.secret]]
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
