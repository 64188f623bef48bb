import CaulkAPI
import CaulkTestSupport
import Foundation
import Testing

/// `caulk serve` over HTTPS with certificates made by openssl, and the CLI that checks them: an
/// unknown CA is refused, the right one is trusted, and a server that asks for client
/// certificates lets in only a client that has one its CA signed.
@Suite struct TLSTests {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a second
    /// CA that signed nothing here.
    struct Certificates {
        let directory: URL
        func path(_ name: String) -> String { directory.appending(path: name).path }

        init(in directory: URL) throws {
            self.directory = directory
            func openssl(_ arguments: [String]) throws {
                let result = try Command.run("/usr/bin/openssl", arguments, directory: directory)
                guard result.status == 0 else { throw CLIFailure("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
            }
            let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            for ca in ["ca", "other-ca"] {
                try openssl(["req", "-x509"] + key + ["-days", "2", "-subj", "/CN=\(ca)", "-keyout", "\(ca).key", "-out", "\(ca).pem"])
            }
            for (name, extensions) in [("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"), ("client", "extendedKeyUsage=clientAuth")] {
                try openssl(["req"] + key + ["-subj", "/CN=\(name)", "-keyout", "\(name).key", "-out", "\(name).csr"])
                try Data(extensions.utf8).write(to: directory.appending(path: "\(name).ext"))
                try openssl([
                    "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                    "-extfile", "\(name).ext", "-out", "\(name).pem",
                ])
            }
        }
    }

    @Test func theCLITrustsOnlyTheServersCAAndTheServerOnlyItsClients() throws {
        let server = try LiveServer()
        let certs = try Certificates(in: server.directory)
        try server.start(arguments: ["--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key")])
        #expect(server.url.hasPrefix("https://127.0.0.1:"), "\(server.url)")

        var result = try server.caulk(["whoami"], token: server.adminToken)
        #expect(result.status == 1 && result.stderr.contains("not trusted") && result.stderr.contains("--ca-file"), "\(result.stderr)")
        result = try server.caulk(["whoami", "--ca-file", certs.path("other-ca.pem")], token: server.adminToken)
        #expect(result.status == 1 && result.stderr.contains("not trusted"), "\(result.stderr)")
        result = try server.caulk(["whoami", "--ca-file", certs.path("ca.pem")], token: server.adminToken)
        #expect(result.status == 0 && result.stdout.contains("admin"), "\(result.stderr)")
        result = try server.caulk(["whoami"], token: server.adminToken, environment: ["CAULK_CA_FILE": certs.path("ca.pem")])
        #expect(result.status == 0, "\(result.stderr)")
        // Plain HTTP to the HTTPS port gets no answer a client could take for caulk's.
        result = try server.caulk(["whoami"], token: server.adminToken, environment: ["CAULK_URL": server.url.replacingOccurrences(of: "https:", with: "http:")])
        #expect(result.status == 1)
        result = try server.caulk(["whoami", "--ca-file", certs.path("nope.pem")], token: server.adminToken)
        #expect(result.status == 2 && result.stderr.contains("--ca-file"), "\(result.stderr)")
        server.stop()

        // Client certificates required: a client without one does not get past the handshake.
        try server.start(arguments: [
            "--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key"), "--tls-client-ca", certs.path("ca.pem"),
        ])
        let trusted = ["CAULK_CA_FILE": certs.path("ca.pem")]
        result = try server.caulk(["whoami"], token: server.adminToken, environment: trusted)
        #expect(result.status == 1, "\(result.stdout)")
        result = try server.caulk(["whoami", "--client-cert", certs.path("server.pem"), "--client-key", certs.path("server.key")], token: server.adminToken, environment: trusted)
        #expect(result.status == 1, "a certificate made for a server is not a client's")
        result = try server.caulk(["whoami", "--client-cert", certs.path("client.pem"), "--client-key", certs.path("client.key")], token: server.adminToken, environment: trusted)
        #expect(result.status == 0 && result.stdout.contains("admin"), "\(result.stderr)")
        result = try server.caulk(["whoami", "--client-cert", certs.path("client.pem")], token: server.adminToken, environment: trusted)
        #expect(result.status == 2 && result.stderr.contains("--client-key"), "\(result.stderr)")
    }

    /// Plain HTTP only on loopback unless asked for; half a TLS setup or an unreadable file stops
    /// the start with what to change, before the database is touched.
    @Test func unsafeOrHalfDoneTransportIsRefusedAtStart() throws {
        let server = try LiveServer()
        let certs = try Certificates(in: server.directory)
        for (arguments, message) in [
            (["--listen", "0.0.0.0:0"], "clear text"),
            (["--tls-cert", certs.path("server.pem")], "tls_cert is set without tls_key"),
            (["--tls-client-ca", certs.path("ca.pem")], "tls_client_ca needs HTTPS"),
            (["--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("missing.key")], "tls_key"),
            (["--tls-cert", certs.path("server.csr"), "--tls-key", certs.path("server.key")], "tls_cert"),
        ] {
            let result = try Command.run(
                LiveServer.binary.path, ["serve", "--database", server.database] + arguments, environment: ["PATH": "/usr/bin:/bin", "HOME": server.directory.path],
                directory: server.directory)
            #expect(result.status == 2 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: server.database), "refused before the database was made")
    }
}
