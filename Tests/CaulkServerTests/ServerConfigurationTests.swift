import Foundation
import Testing

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
}
