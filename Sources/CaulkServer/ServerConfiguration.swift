import CaulkAPI
import CaulkDomain
import CaulkSSH
import Foundation
import Yams

/// Settings of `caulk serve`. Each comes from, in rising precedence: the built-in default
/// (`config/caulk.yaml`, embedded), a config file, an environment variable, a flag.
public struct ServerConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// SQLite file; relative paths are relative to the working directory.
    public var database: String
    /// Where to write the first admin token (mode 0600), besides printing it once.
    public var bootstrapTokenFile: String?
    /// Passphrase of encrypted SSH private keys: the value of CAULK_SSH_KEY_PASSPHRASE, or the
    /// first line of the file CAULK_SSH_KEY_PASSPHRASE_FILE names.
    public var sshPassphraseSource: PassphraseSource?
    /// Directories of the operator's own playbooks, besides the built-in ones.
    public var playbookDirectories: [String] = []
    /// Seconds an SSH connection is kept open after an operation for the next one on that host;
    /// 0 closes each at once.
    public var sshKeepSeconds = 60
    /// SSH threads (one per host operation at a time) for audits, repairs and beacon installs.
    public var sshThreads = 64
    /// SSH threads of their own for `exec` and host-key trust, so neither can starve the other.
    public var sshExecThreads = 16
    /// How long each class of data is kept.
    public var retention = RetentionPolicy.defaults
    /// HTTPS: the certificate chain and private key, PEM files. Without them, plain HTTP.
    public var tlsCert: String?
    public var tlsKey: String?
    /// With HTTPS: clients must present a certificate this CA (PEM) signed.
    public var tlsClientCA: String?
    /// Serve plain HTTP on an address other than loopback anyway: bearer tokens then cross the
    /// network in clear text. For a test network or a TLS-terminating proxy on the same host.
    public var insecureHTTP = false
    /// Webhooks: hold every delivery queued, send none (a copy of a production database);
    /// how many attempts each gets and the wait after the first failed one (it doubles).
    public var notifyHold = false
    public var delivery = DeliveryPolicy()

    public var scheme: String { tlsCert == nil ? "http" : "https" }

    /// Refuses a way of serving that would be unsafe or half set up, saying what to change.
    public func checkTransport() throws {
        switch (tlsCert, tlsKey) {
        case (nil, nil):
            if tlsClientCA != nil { throw ConfigurationError("tls_client_ca needs HTTPS: set tls_cert and tls_key too") }
            if !insecureHTTP && !Self.isLoopback(host) {
                throw ConfigurationError(
                    "listening on \(host) with plain HTTP would send bearer tokens across the network in clear text; set tls_cert and tls_key "
                        + "(--tls-cert, --tls-key), listen on 127.0.0.1 behind a TLS proxy, or accept it with --insecure-http (insecure_http: true)")
            }
        case (nil, _?): throw ConfigurationError("tls_key is set without tls_cert; set both for HTTPS, or neither")
        case (_?, nil): throw ConfigurationError("tls_cert is set without tls_key; set both for HTTPS, or neither")
        case (_?, _?): break
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public enum PassphraseSource: Sendable, Equatable {
        case value(Secret)
        case file(String)
    }

    func sshPassphrase() throws -> Secret? {
        switch sshPassphraseSource {
        case nil: return nil
        case .value(let secret): return secret
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("cannot read the SSH key passphrase file \(path)")
            }
            return Secret(String(text.prefix { $0 != "\n" }))
        }
    }

    /// The defaults shipped in `config/caulk.yaml`.
    public static var defaults: ServerConfiguration {
        let text = Embedded.files.first { $0.name == "caulk.yaml" }!.contents
        return try! ServerConfiguration(yaml: text, base: ServerConfiguration(host: "127.0.0.1", port: 8420, database: "var/caulk.db"), source: "built-in config/caulk.yaml")
    }

    public init(host: String, port: Int, database: String, bootstrapTokenFile: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.bootstrapTokenFile = bootstrapTokenFile
    }

    /// Applies the keys of a config file on top of `base`. Unknown keys are refused.
    public init(yaml: String, base: ServerConfiguration, source: String) throws {
        self = base
        guard let loaded = try Yams.load(yaml: yaml) else { return }
        guard let map = loaded as? [String: Any] else { throw ConfigurationError("\(source): expected key: value lines") }
        for (key, value) in map {
            let text = "\(value)"
            switch key {
            case "listen": try setListen(text, source: "\(source): listen")
            case "database": database = text
            case "bootstrap_token_file": bootstrapTokenFile = text
            case "playbook_dirs":
                guard let list = value as? [Any] else { throw ConfigurationError("\(source): playbook_dirs: expected a list of directories") }
                playbookDirectories = list.map { "\($0)" }
            case "ssh_keep_seconds": try setSSHKeepSeconds(text, source: "\(source): ssh_keep_seconds")
            case "ssh_threads": sshThreads = try Self.threads(text, source: "\(source): ssh_threads")
            case "ssh_exec_threads": sshExecThreads = try Self.threads(text, source: "\(source): ssh_exec_threads")
            case "tls_cert": tlsCert = text
            case "tls_key": tlsKey = text
            case "tls_client_ca": tlsClientCA = text
            case "insecure_http":
                guard let flag = value as? Bool else { throw ConfigurationError("\(source): insecure_http: expected true or false") }
                insecureHTTP = flag
            case "notify_hold":
                guard let flag = value as? Bool else { throw ConfigurationError("\(source): notify_hold: expected true or false") }
                notifyHold = flag
            case "notify_attempts":
                guard let count = Int(text), (1...50).contains(count) else { throw ConfigurationError("\(source): notify_attempts: expected 1–50") }
                delivery.attempts = count
            case "notify_first_wait_seconds":
                guard let seconds = Int(text), (1...3600).contains(seconds) else {
                    throw ConfigurationError("\(source): notify_first_wait_seconds: expected 1–3600")
                }
                delivery.firstWait = .seconds(seconds)
            case "retention":
                guard let settings = value as? [String: Any] else {
                    throw ConfigurationError("\(source): retention: expected keys such as output_days: 90")
                }
                for (name, days) in settings {
                    guard let kind = RetentionClass.allCases.first(where: { "\($0.rawValue)_days" == name }) else {
                        throw ConfigurationError(
                            "\(source): retention: unknown key '\(name)' (known: \(RetentionClass.allCases.map { "\($0.rawValue)_days" }.joined(separator: ", ")))")
                    }
                    try setRetention(kind, "\(days)", source: "\(source): retention: \(name)")
                }
            default:
                throw ConfigurationError(
                    "\(source): unknown key '\(key)' (known: listen, database, bootstrap_token_file, playbook_dirs, ssh_keep_seconds, ssh_threads, "
                        + "ssh_exec_threads, retention, tls_cert, tls_key, tls_client_ca, insecure_http, notify_hold, notify_attempts, "
                        + "notify_first_wait_seconds)")
            }
        }
    }

    public mutating func setSSHKeepSeconds(_ value: String, source: String) throws {
        guard let seconds = Int(value), (0...3600).contains(seconds) else {
            throw ConfigurationError("\(source): '\(value)' is not a number of seconds from 0 (keep no connection) to 3600")
        }
        sshKeepSeconds = seconds
    }

    /// Days to keep a class of data; 0 keeps it forever.
    public mutating func setRetention(_ kind: RetentionClass, _ value: String, source: String) throws {
        guard let days = Int(value), (0...36_500).contains(days) else {
            throw ConfigurationError("\(source): '\(value)' is not a number of days from 1 to 36500, or 0 to keep forever")
        }
        retention.keepDays[kind] = days == 0 ? nil : days
    }

    static func threads(_ value: String, source: String) throws -> Int {
        guard let threads = Int(value), (1...1024).contains(threads) else {
            throw ConfigurationError("\(source): '\(value)' is not a number of threads from 1 to 1024")
        }
        return threads
    }

    /// `HOST:PORT`, `[IPv6]:PORT` or `:PORT`; port 0 picks a free one (printed at start).
    public mutating func setListen(_ value: String, source: String) throws {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigurationError("\(source): '\(value)' is not HOST:PORT, e.g. 127.0.0.1:8420")
        }
        var host = String(value[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    /// Defaults, then the config file (flag, `CAULK_CONFIG`, or `./config/caulk.yaml` when
    /// present), then `CAULK_LISTEN`, `CAULK_DATABASE`, `CAULK_BOOTSTRAP_TOKEN_FILE`.
    public static func load(configFile: String?, environment: [String: String]) throws -> ServerConfiguration {
        var configuration = defaults
        let explicit = configFile ?? environment["CAULK_CONFIG"]
        let path = explicit ?? (FileManager.default.fileExists(atPath: "config/caulk.yaml") ? "config/caulk.yaml" : nil)
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("cannot read config file \(path)")
            }
            configuration = try ServerConfiguration(yaml: text, base: configuration, source: path)
        }
        if let listen = environment["CAULK_LISTEN"] { try configuration.setListen(listen, source: "CAULK_LISTEN") }
        if let database = environment["CAULK_DATABASE"] { configuration.database = database }
        if let file = environment["CAULK_BOOTSTRAP_TOKEN_FILE"] { configuration.bootstrapTokenFile = file }
        if let dirs = environment["CAULK_PLAYBOOK_DIRS"] { configuration.playbookDirectories = dirs.split(separator: ":").map(String.init) }
        if let keep = environment["CAULK_SSH_KEEP_SECONDS"] { try configuration.setSSHKeepSeconds(keep, source: "CAULK_SSH_KEEP_SECONDS") }
        if let value = environment["CAULK_SSH_THREADS"] { configuration.sshThreads = try threads(value, source: "CAULK_SSH_THREADS") }
        if let value = environment["CAULK_SSH_EXEC_THREADS"] { configuration.sshExecThreads = try threads(value, source: "CAULK_SSH_EXEC_THREADS") }
        if let value = environment["CAULK_TLS_CERT"] { configuration.tlsCert = value }
        if let value = environment["CAULK_TLS_KEY"] { configuration.tlsKey = value }
        if let value = environment["CAULK_TLS_CLIENT_CA"] { configuration.tlsClientCA = value }
        if let value = environment["CAULK_INSECURE_HTTP"] {
            guard ["1", "true", "0", "false"].contains(value) else { throw ConfigurationError("CAULK_INSECURE_HTTP: '\(value)' is not true or false") }
            configuration.insecureHTTP = value == "1" || value == "true"
        }
        if let value = environment["CAULK_NOTIFY_HOLD"] {
            guard ["1", "true", "0", "false"].contains(value) else { throw ConfigurationError("CAULK_NOTIFY_HOLD: '\(value)' is not true or false") }
            configuration.notifyHold = value == "1" || value == "true"
        }
        for kind in RetentionClass.allCases {
            let name = "CAULK_RETENTION_\(kind.rawValue.uppercased())_DAYS"
            if let value = environment[name] { try configuration.setRetention(kind, value, source: name) }
        }
        if let value = environment["CAULK_SSH_KEY_PASSPHRASE"] {
            configuration.sshPassphraseSource = .value(Secret(value))
        } else if let file = environment["CAULK_SSH_KEY_PASSPHRASE_FILE"] {
            configuration.sshPassphraseSource = .file(file)
        }
        return configuration
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
