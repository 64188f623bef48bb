import ArgumentParser
import CaulkServer
import CaulkStore
import Foundation
import Hummingbird
import Logging
import NIOCore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the caulk service (REST API on 127.0.0.1:8420 by default).",
        discussion: """
            Settings, in rising precedence: built-in defaults (config/caulk.yaml), the
            config file (--config, CAULK_CONFIG, or ./config/caulk.yaml when present),
            environment variables (CAULK_LISTEN, CAULK_DATABASE,
            CAULK_BOOTSTRAP_TOKEN_FILE, CAULK_PLAYBOOK_DIRS, CAULK_SSH_KEEP_SECONDS), then
            these flags. On a database without tokens, the first start creates an admin
            token and prints it once. Log level: LOG_LEVEL=debug|info|warning|error.
            """
    )

    @Option(help: "Config file (YAML).") var config: String?
    @Option(help: "Address to listen on, HOST:PORT.") var listen: String?
    @Option(help: "SQLite database file (created if missing).") var database: String?
    @Option(help: "Also write the first admin token to this file (mode 0600).") var bootstrapTokenFile: String?

    func run() async throws {
        var configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.load(configFile: config, environment: ProcessInfo.processInfo.environment)
            if let listen { try configuration.setListen(listen, source: "--listen") }
        } catch let error as ConfigurationError {
            throw CLIError.usage(error.description)
        }
        if let database { configuration.database = database }
        if let bootstrapTokenFile { configuration.bootstrapTokenFile = bootstrapTokenFile }

        var logger = Logger(label: "caulk")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let app: any ApplicationProtocol
        do {
            let (host, database) = (configuration.host, configuration.database)
            app = try await buildApplication(configuration, logger: logger) { port in
                // On stdout, one line, so scripts (and tests using --listen HOST:0) learn the port.
                let shown = host.contains(":") ? "[\(host)]" : host
                FileHandle.standardOutput.write(Data("caulk: listening on http://\(shown):\(port) (database \(database))\n".utf8))
            }
        } catch let error as StoreError {
            throw CLIError.failure(error.description)
        }
        do {
            try await app.runService()
        } catch let error as IOError {
            throw CLIError.failure("cannot listen on \(configuration.host):\(configuration.port): \(error.description); is another caulk running? (change it with --listen or CAULK_LISTEN)")
        }
    }
}
