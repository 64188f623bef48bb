import CaulkSSH
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain
@testable import CaulkServer

@Suite struct ServerConfigurationTests {
    @Test func sshConnectionsAreKeptAMinuteUnlessConfiguredOtherwise() throws {
        let defaults = try ServerConfiguration.load(configFile: nil, environment: [:])
        #expect(defaults.sshKeepSeconds == 60)
        let off = try ServerConfiguration(yaml: "ssh_keep_seconds: 0\n", base: defaults, source: "caulk.yaml")
        #expect(off.sshKeepSeconds == 0)
        #expect(try ServerConfiguration.load(configFile: nil, environment: ["CAULK_SSH_KEEP_SECONDS": "300"]).sshKeepSeconds == 300)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration(yaml: "ssh_keep_seconds: forever\n", base: defaults, source: "caulk.yaml") }
        do {
            _ = try ServerConfiguration.load(configFile: nil, environment: ["CAULK_SSH_KEEP_SECONDS": "-1"])
            Issue.record("a negative keep time was accepted")
        } catch {
            #expect("\(error)".contains("CAULK_SSH_KEEP_SECONDS: '-1' is not a number of seconds from 0"), "\(error)")
        }
    }

    /// Output 90 days and the rest two years unless set; 0 keeps forever; a misspelt class or a
    /// number that is not days is refused naming the key.
    @Test func retentionDefaultsAndOverrides() throws {
        let defaults = try ServerConfiguration.load(configFile: nil, environment: [:])
        #expect(defaults.retention == .defaults && defaults.retention.keepDays[.output] == 90 && defaults.retention.keepDays[.runs] == 730)
        let file = try ServerConfiguration(yaml: "retention:\n  output_days: 7\n  events_days: 0\n", base: defaults, source: "caulk.yaml")
        #expect(file.retention.keepDays[.output] == 7 && file.retention.keepDays[.events] == nil && file.retention.keepDays[.runs] == 730)
        #expect(try ServerConfiguration.load(configFile: nil, environment: ["CAULK_RETENTION_FINDINGS_DAYS": "30"]).retention.keepDays[.findings] == 30)
        for bad in ["retention:\n  logs_days: 3\n", "retention:\n  output_days: -1\n", "retention:\n  output_days: soon\n", "retention: 90\n"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ServerConfiguration(yaml: bad, base: defaults, source: "caulk.yaml") }
        }
    }

    /// Plain HTTP on loopback by default; HTTPS from a file's keys or the environment; a half
    /// setup, or plain HTTP elsewhere without saying so, is refused by name.
    @Test func transportIsHTTPSOrLoopbackUnlessAccepted() throws {
        let defaults = try ServerConfiguration.load(configFile: nil, environment: [:])
        #expect(defaults.scheme == "http" && !defaults.insecureHTTP && defaults.tlsCert == nil)
        try defaults.checkTransport()
        let tls = try ServerConfiguration(yaml: "listen: 0.0.0.0:8443\ntls_cert: c.pem\ntls_key: k.pem\ntls_client_ca: ca.pem\n", base: defaults, source: "f")
        #expect(tls.scheme == "https" && tls.tlsClientCA == "ca.pem")
        try tls.checkTransport()
        var open = try ServerConfiguration(yaml: "listen: 198.18.0.1:8420\n", base: defaults, source: "f")
        #expect(throws: ConfigurationError.self) { try open.checkTransport() }
        open.insecureHTTP = true
        try open.checkTransport()
        #expect(try ServerConfiguration(yaml: "insecure_http: true\n", base: defaults, source: "f").insecureHTTP)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration(yaml: "insecure_http: sometimes\n", base: defaults, source: "f") }
        let env = try ServerConfiguration.load(configFile: nil, environment: ["CAULK_TLS_CERT": "c", "CAULK_TLS_KEY": "k", "CAULK_INSECURE_HTTP": "0"])
        #expect(env.tlsCert == "c" && env.tlsKey == "k" && !env.insecureHTTP)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(configFile: nil, environment: ["CAULK_INSECURE_HTTP": "yes"]) }
        for localhost in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] { #expect(ServerConfiguration.isLoopback(localhost)) }
        for other in ["0.0.0.0", "198.18.0.1", "::", "128.0.0.1"] { #expect(!ServerConfiguration.isLoopback(other)) }
    }

    @Test func execHasSSHThreadsOfItsOwn() throws {
        let defaults = try ServerConfiguration.load(configFile: nil, environment: [:])
        #expect(defaults.sshThreads == 64 && defaults.sshExecThreads == 16)
        let file = try ServerConfiguration(yaml: "ssh_threads: 128\nssh_exec_threads: 4\n", base: defaults, source: "caulk.yaml")
        #expect(file.sshThreads == 128 && file.sshExecThreads == 4)
        #expect(try ServerConfiguration.load(configFile: nil, environment: ["CAULK_SSH_EXEC_THREADS": "2"]).sshExecThreads == 2)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration(yaml: "ssh_exec_threads: 0\n", base: defaults, source: "caulk.yaml") }

        let (fleet, interactive) = (SSHExecutor(threads: 1), SSHExecutor(threads: 1))
        let services = try Services(store: try Store.inMemory(), executor: fleet, interactive: interactive)
        #expect(services.exec.executor === interactive)
        #expect(services.audits.executor === fleet && services.repairs.executor === fleet && services.beacons.executor === fleet)
    }
}
