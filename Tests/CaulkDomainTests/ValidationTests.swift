import CaulkDomain
import Testing

@Suite struct ValidationTests {
    @Test(arguments: ["a", "prod-a", "n1", "0x", String(repeating: "a", count: 63)])
    func acceptsDNSLabels(_ name: String) throws {
        #expect(try Validate.name(name, field: "name") == name)
    }

    @Test(arguments: ["", "a;rm -rf /", "-a", "a-", "A", "a.b", "a_b", "$(reboot)", String(repeating: "a", count: 64), String(repeating: "x", count: 300)])
    func refusesEverythingElseNamingTheField(_ name: String) {
        #expect {
            _ = try Validate.name(name, field: "name")
        } throws: { error in
            guard case DomainError.invalid(let field, _) = error else { return false }
            return field == "name"
        }
    }

    @Test(arguments: ["198.18.0.1", "::1", "fd00::10", "node1.example.com", "Node-1"])
    func acceptsAddresses(_ address: String) throws {
        _ = try Validate.address(address, field: "address")
    }

    @Test(arguments: ["198.18.0.256", "1.2.3", "01.2.3.4", "a b", "-x.com", "x;y", "fe80::1%eth0", ""])
    func refusesBadAddresses(_ address: String) {
        #expect(throws: DomainError.self) { _ = try Validate.address(address, field: "address") }
    }

    @Test func cidrsMustBeNetworks() throws {
        _ = try Validate.cidr("198.19.0.0/16", field: "pod_cidr")
        _ = try Validate.cidr("fd00:10::/64", field: "pod_cidr")
        #expect(throws: DomainError.self) { _ = try Validate.cidr("198.19.0.1/16", field: "pod_cidr") }
        #expect(throws: DomainError.self) { _ = try Validate.cidr("198.19.0.0/33", field: "pod_cidr") }
        #expect(throws: DomainError.self) { _ = try Validate.cidr("198.19.0.0", field: "pod_cidr") }
    }

    @Test func endpointsBastionsAndLabels() throws {
        _ = try Validate.apiEndpoint("https://198.18.0.10:6443", field: "api_endpoint")
        _ = try Validate.apiEndpoint("https://[fd00::10]:6443", field: "api_endpoint")
        _ = try Validate.apiEndpoint("https://api.prod.example.com", field: "api_endpoint")
        #expect(throws: DomainError.self) { _ = try Validate.apiEndpoint("ftp://x:1", field: "api_endpoint") }
        #expect(throws: DomainError.self) { _ = try Validate.apiEndpoint("https://x:6443/$(id)", field: "api_endpoint") }
        _ = try Validate.bastion("jump@198.18.0.2:2222", field: "bastion")
        _ = try Validate.bastion("[fd00::2]:22", field: "bastion")
        #expect(throws: DomainError.self) { _ = try Validate.bastion("a b@c", field: "bastion") }
        _ = try Validate.labels(["zone": "a", "topology.kubernetes.io/zone": "eu-1", "empty": ""], field: "labels")
        #expect(throws: DomainError.self) { _ = try Validate.labels(["bad key": "a"], field: "labels") }
        #expect(throws: DomainError.self) { _ = try Validate.labels(["k": "v;rm"], field: "labels") }
        #expect(throws: DomainError.self) { _ = try Validate.path("/tmp/key; rm -rf /", field: "ssh.key") }
    }

    @Test func hostKeysBecomeOpenSSHFingerprints() throws {
        // `ssh-keygen -lf` printed SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4 for this key.
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvOAC0Z/8zRrway0oxbTytAMynQrwOXcCZ7I58kpAB0"
        let expected = "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4"
        #expect(try HostKey.fingerprint(key, field: "host_key") == expected)
        #expect(try HostKey.fingerprint("198.18.0.5 " + key + " comment", field: "host_key") == expected)
        #expect(try HostKey.fingerprint(expected, field: "host_key") == expected)
        #expect(throws: DomainError.self) { _ = try HostKey.fingerprint("SHA256:short", field: "host_key") }
        #expect(throws: DomainError.self) { _ = try HostKey.fingerprint("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB", field: "host_key") }
    }
}
