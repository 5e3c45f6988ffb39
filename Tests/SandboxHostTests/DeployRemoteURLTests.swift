import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// Which remotes a deployment may push to (issue 14, item 1): refused forms answer 400
/// `VALIDATION_ERROR` through the real route before anything is committed or pushed, and name
/// the host, never a credential.
@Suite struct DeployRemoteURLTests {
    static let refused = [
        "file:///tmp/some.git", "file://localhost/tmp/some.git", "/abs/path", "./rel", "rel.git", "../up.git",
        "http://127.0.0.1:22/x", "http://example.com/x.git", "https://[::1]/", "https://[::1]:8000/x", "https://10.1.2.3/",
        "https://169.254.169.254/latest/meta-data", "git://localhost/", "git@127.0.0.1:x", "git@localhost:repo.git",
        "http://2130706433/", "https://2130706433/", "https://0x7f.1/", "https://0177.0.0.1/", "https://127.1/",
        "https://0x7f000001/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/x", "https://[fe80::1]/x",
        "https://[fc00::1]/x", "https://[fd12:3456::1]/x", "https://[ff02::1]/x", "https://[::]/x", "https://[64:ff9b::a01:203]/x",
        "ssh://git@192.168.1.10/srv/x.git", "ssh://git@172.16.0.1:2222/x.git", "git://100.64.0.1/x", "https://0.0.0.0/",
        "https://224.0.0.1/", "https://255.255.255.255/", "git://[fe80::1%25eth0]/x", "git@[::1]:x.git",
        "ext::sh -c true", "fd::17", "--upload-pack=true", "-oProxyCommand=x",
        "https://example.com\\@127.0.0.1/", "https://example.com#@127.0.0.1/", "https://a b@127.0.0.1/",
        "HTTPS://example.com/x", "ftp://example.com/x", "git+ssh://example.com/x", "ssh://-oProxyCommand=x/y", "ssh://-oProxyCommand=touch@example.com/y", "-oProxyCommand=x@example.com:y",
        "https://example.com:0/x", "https://example.com:99999/x", "https://[203.0.113.5]/", "",
    ]

    /// Refused forms that name a destination off this machine (private, link-local, multicast,
    /// broadcast, a public name). `RemotePolicyTests` checks them against the policy alone; the
    /// route test leaves them out, so that a regression can never send a push off the machine.
    static let offHost: Set<String> = [
        "http://example.com/x.git", "https://10.1.2.3/", "https://169.254.169.254/latest/meta-data", "https://[fe80::1]/x",
        "https://[fc00::1]/x", "https://[fd12:3456::1]/x", "https://[ff02::1]/x", "https://[64:ff9b::a01:203]/x",
        "ssh://git@192.168.1.10/srv/x.git", "ssh://git@172.16.0.1:2222/x.git", "git://100.64.0.1/x", "https://224.0.0.1/",
        "https://255.255.255.255/", "git://[fe80::1%25eth0]/x", "HTTPS://example.com/x", "ftp://example.com/x",
        "git+ssh://example.com/x", "https://example.com:0/x", "https://example.com:99999/x", "https://[203.0.113.5]/",
        "ssh://-oProxyCommand=touch@example.com/y", "-oProxyCommand=x@example.com:y", "https://example.com\\@127.0.0.1/",
        "https://example.com#@127.0.0.1/",
    ]

    @Test(.testHost(configure: unthrottled)) func refusedRemotesAnswer400AndNothingIsDeployed() async throws {
        #expect(Self.offHost.isSubset(of: Set(Self.refused)), "every off-host form is still checked by RemotePolicyTests")
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let project = try await createProject(client, key: host.adminKey, name: "urls")
        for remote in Self.refused.filter({ !Self.offHost.contains($0) }) + ["https://deployer:s3cr3t-token@127.0.0.1/x.git", "https://deployer:s3cr3t-token@[::1]:8443/x.git"] {
            let data = try JSONSerialization.data(withJSONObject: ["remote_url": remote.isEmpty ? " " : remote])
            let (status, body) = try await client.execute(
                uri: "/api/project/\(project)/deploy/git", method: .post, headers: .bearer(host.adminKey), body: ByteBuffer(data: data)
            ) { ($0.status, $0.json) }
            #expect(status == .badRequest, "\(remote): \(status) \(body)")
            #expect(body["code"] as? String == "VALIDATION_ERROR", "\(remote): \(body)")
            #expect(!(body["detail"] as? String ?? "").contains("s3cr3t"), "\(remote): \(body)")
            if remote.contains("s3cr3t") { #expect((body["detail"] as? String ?? "").contains(remote.contains("[::1]") ? "[::1]" : "127.0.0.1"), "\(body)") }
        }
        let live = try await client.execute(uri: "/api/project/\(project)/deployment/live-status", method: .get, headers: .bearer(host.adminKey)) { $0.json }
        #expect(live["state"] as? String == "none", "nothing was deployed: \(live)")
    }

    /// An update reuses the newest deployment's remote: one stored before this check existed (or
    /// before the operator shortened the list) is checked again, and refused the same way.
    @Test(.testHost(configure: unthrottled)) func anUpdateChecksTheStoredRemoteAgain() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let project = try await createProject(client, key: host.adminKey, name: "stored")
        let stored = "file://\(host.configuration.dataDir)/deploy/\(project)/current"
        try await host.services.deployments.insert(Deployment(
            id: "00000000-0000-4000-8000-000000000001", projectID: project, state: .deployed, branch: "main", remoteURL: stored,
            buildCommand: nil, outputDirectory: nil, message: "old", commit: nil, error: nil, createdAt: Timestamp.iso8601(), readyAt: nil))
        let (status, body) = try await client.execute(
            uri: "/api/project/\(project)/deploy/git/update", method: .post, headers: .bearer(host.adminKey), body: ByteBuffer(string: "{}")
        ) { ($0.status, $0.json) }
        #expect(status == .badRequest && body["code"] as? String == "VALIDATION_ERROR", "\(status) \(body)")
        let live = try await client.execute(uri: "/api/project/\(project)/deployment/live-status", method: .get, headers: .bearer(host.adminKey)) { $0.json }
        #expect(live["deployment_id"] as? String == "00000000-0000-4000-8000-000000000001", "no new deployment: \(live)")
    }
}
