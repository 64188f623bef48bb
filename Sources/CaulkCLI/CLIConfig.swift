import Foundation
import Yams

/// Where the CLI finds the server and its token: flags, then `CAULK_URL` / `CAULK_TOKEN`, then
/// the config file (`$XDG_CONFIG_HOME/caulk/config.yaml`, else `~/.config/caulk/config.yaml`).
struct CLIConfig: Codable, Equatable {
    var url: String?
    var token: String?
    /// HTTPS: the CA (PEM) that signed the server's certificate, when the system's do not.
    var caFile: String?
    /// HTTPS with client certificates: this client's certificate and key (PEM).
    var clientCert: String?
    var clientKey: String?

    enum CodingKeys: String, CodingKey {
        case url, token
        case caFile = "ca_file", clientCert = "client_cert", clientKey = "client_key"
    }

    static let defaultURL = "http://127.0.0.1:8420"

    static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment["CAULK_CLI_CONFIG"] { return explicit }
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return base + "/caulk/config.yaml"
    }

    static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CLIConfig {
        let path = path(environment: environment)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return CLIConfig() }
        do {
            return try YAMLDecoder().decode(CLIConfig.self, from: text)
        } catch {
            throw CLIError.usage("cannot read \(path): \(error); fix or delete it")
        }
    }

    /// Writes the file readable by its owner only: it holds a token.
    func save(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let path = Self.path(environment: environment)
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = try YAMLEncoder().encode(self)
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError.failure("cannot write \(path)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return path
    }
}
