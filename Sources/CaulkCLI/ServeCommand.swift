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
            CAULK_BOOTSTRAP_TOKEN_FILE, CAULK_PLAYBOOK_DIRS, CAULK_SSH_KEEP_SECONDS,
            CAULK_TLS_CERT, CAULK_TLS_KEY, CAULK_TLS_CLIENT_CA, CAULK_INSECURE_HTTP,
            CAULK_NOTIFY_HOLD), then
            these flags. On a database without tokens, the first start creates an admin
            token and prints it once. Log level: LOG_LEVEL=debug|info|warning|error.

            HTTPS: --tls-cert and --tls-key (PEM). With --tls-client-ca, clients must also
            present a certificate that CA signed. Plain HTTP is served on loopback only,
            unless --insecure-http (tokens then cross the network in clear text).

            A certificate for a test:
              openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
                -subj /CN=caulk -addext subjectAltName=DNS:caulk.example,IP:127.0.0.1 \
                -keyout key.pem -out cert.pem
              caulk serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem
              caulk --ca-file cert.pem --url https://127.0.0.1:8443 whoami
            """
    )

    @Option(help: "Config file (YAML).") var config: String?
    @Option(help: "Address to listen on, HOST:PORT.") var listen: String?
    @Option(help: "SQLite database file (created if missing).") var database: String?
    @Option(help: "Also write the first admin token to this file (mode 0600).") var bootstrapTokenFile: String?
    @Option(help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM).", valueName: "file")) var tlsCert: String?
    @Option(help: ArgumentHelp("The certificate's private key (PEM).", valueName: "file")) var tlsKey: String?
    @Option(help: ArgumentHelp("Require client certificates signed by this CA (PEM).", valueName: "file")) var tlsClientCa: String?
    @Flag(help: "Serve plain HTTP on an address other than loopback (tokens in clear text).") var insecureHTTP = false
    @Flag(help: "Queue webhook deliveries but send none (a copy of a production database).") var notifyHold = false

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
        if let tlsCert { configuration.tlsCert = tlsCert }
        if let tlsKey { configuration.tlsKey = tlsKey }
        if let tlsClientCa { configuration.tlsClientCA = tlsClientCa }
        if insecureHTTP { configuration.insecureHTTP = true }
        if notifyHold { configuration.notifyHold = true }

        var logger = Logger(label: "caulk")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let app: any ApplicationProtocol
        do {
            let (host, database, scheme) = (configuration.host, configuration.database, configuration.scheme)
            app = try await buildApplication(configuration, logger: logger) { port in
                // On stdout, one line, so scripts (and tests using --listen HOST:0) learn the port.
                let shown = host.contains(":") ? "[\(host)]" : host
                FileHandle.standardOutput.write(Data("caulk: listening on \(scheme)://\(shown):\(port) (database \(database))\n".utf8))
            }
        } catch let error as StoreError {
            throw CLIError.failure(error.description)
        } catch let error as ConfigurationError {
            throw CLIError.usage(error.description)
        }
        do {
            try await app.runService()
        } catch let error as IOError {
            throw CLIError.failure("cannot listen on \(configuration.host):\(configuration.port): \(error.description); is another caulk running? (change it with --listen or CAULK_LISTEN)")
        }
    }
}
