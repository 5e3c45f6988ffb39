@testable import Deploy
import Foundation
import Testing

/// `RemotePolicy` on its own: what is accepted without the operator, and what the operator's list
/// opens (the transport, host, port and path it names, and never the data directory).
@Suite struct RemotePolicyTests {
    @Test(arguments: [
        "https://203.0.113.5/org/repo.git", "https://user:token@203.0.113.5/x.git", "https://[2001:db8::1]/x.git",
        "ssh://git@198.51.100.7:2222/srv/x.git", "git://203.0.113.5/x.git", "git://[2001:db8::5]:9418/x", "git@203.0.113.9:org/repo.git",
        "deploy@[2001:db8::9]:repo.git",
    ])
    func publicRemotesAreAccepted(_ raw: String) throws {
        let policy = RemotePolicy(allowedPrefixes: [], protectedRoot: "/nonexistent-data")
        let target = try policy.check(RemoteURL(raw))
        #expect(target.remote.raw == raw)
    }

    @Test func theRefusedFormsAreRefusedByThePolicyToo() throws {
        let policy = RemotePolicy(allowedPrefixes: [], protectedRoot: "/nonexistent-data")
        for raw in DeployRemoteURLTests.refused {
            #expect(throws: DeployError.self, "\(raw)") { try policy.check(RemoteURL(raw)) }
        }
    }

    @Test func theOperatorListOpensExactlyWhatItNames() throws {
        let scratch = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch + "/git/a.git", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch + "/git2/b.git", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch + "/data/deploy/p/current", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch + "/git/sneaky.git", withDestinationPath: scratch + "/data/deploy/p/current")
        try FileManager.default.createSymbolicLink(atPath: scratch + "/git/out.git", withDestinationPath: scratch + "/git2/b.git")
        try "gitdir: \(scratch)/data/deploy/p/current\n".write(toFile: scratch + "/git/gitfile.git", atomically: true, encoding: .utf8)
        let policy = RemotePolicy(
            allowedPrefixes: ["git://127.0.0.1:9418/", "https://10.0.0.5/team/", "file://\(scratch)/git/", "\(scratch)/data/", "ssh://git@192.168.1.2/", "bad::entry"],
            protectedRoot: scratch + "/data")
        #expect(policy.invalidEntries == ["bad::entry"])
        for allowed in ["git://127.0.0.1/x.git", "git://127.0.0.1:9418/x.git", "https://10.0.0.5/team/x.git", "https://10.0.0.5/team",
                        "\(scratch)/git/a.git", "file://\(scratch)/git/a.git", "\(scratch)/git/a.git/../a.git",
                        "ssh://git@192.168.1.2/x.git", "git@192.168.1.2:x.git", "other@192.168.1.2:x.git"] {
            #expect(throws: Never.self, "\(allowed)") { try policy.check(RemoteURL(allowed)) }
        }
        for refused in ["git://127.0.0.1:9419/x.git", "https://10.0.0.5/teamx/x.git", "https://10.0.0.5/other/x.git", "http://10.0.0.5/team/x.git",
                        "https://10.0.0.5:444/team/x.git", "\(scratch)/git2/b.git", "\(scratch)/git/out.git", "\(scratch)/git/../git2/b.git",
                        "\(scratch)/git/sneaky.git", "\(scratch)/git/gitfile.git", "\(scratch)/data/deploy/p/current", "\(scratch)/git/missing.git",
                        "git://127.0.0.2/x.git", "ssh://git@192.168.1.3/x.git"] {
            #expect(throws: DeployError.self, "\(refused)") { try policy.check(RemoteURL(refused)) }
        }
        let local = try policy.check(RemoteURL("file://\(scratch)/git/a.git"))
        #expect(local.destination == RemotePolicy.realPath(scratch + "/git/a.git"))
        #expect(local.receivePack?.contains("core.hooksPath=/dev/null") == true)
    }

    /// A policy whose names resolve from a table, and whose host has `own` as an address.
    static func policy(_ table: [String: [String]], own: [String] = ["203.0.113.50"]) -> RemotePolicy {
        var policy = RemotePolicy(allowedPrefixes: [], protectedRoot: "/nonexistent-data")
        policy.resolve = { name, _ in
            guard let list = table[name] else { throw DeployError("remote_url's host \(name) does not resolve") }
            return list.compactMap(IPAddress.init)
        }
        policy.ownAddresses = { Set(own.compactMap(IPAddress.init)) }
        return policy
    }

    @Test func everyAddressANameResolvesToIsChecked() throws {
        let policy = Self.policy([
            "mixed.example": ["203.0.113.5", "10.0.0.7"], "six.example": ["2001:db8::5", "::ffff:169.254.169.254"],
            "self.example": ["203.0.113.50"], "fine.example": ["203.0.113.5"],
        ])
        for raw in ["https://mixed.example/x.git", "git@six.example:x.git", "git://self.example/x", "https://203.0.113.50/x",
                    "https://[::ffff:203.0.113.50]/x", "https://nowhere.example/x"] {
            #expect(throws: DeployError.self, "\(raw)") { try policy.check(RemoteURL(raw)) }
        }
        do {
            _ = try policy.check(RemoteURL("https://user:s3cr3t@mixed.example/x.git"))
            Issue.record("accepted")
        } catch let error as DeployError {
            #expect(error.message.contains("mixed.example") && error.message.contains("10.0.0.7") && !error.message.contains("s3cr3t"), "\(error.message)")
        }
        #expect(throws: Never.self) { try policy.check(RemoteURL("https://fine.example/x.git")) }
    }

    /// What git is told: only the push's transport, no redirects, and the checked addresses
    /// pinned, so a second DNS answer cannot send the push elsewhere.
    @Test func thePushIsPinnedToTheCheckedAddresses() throws {
        let policy = Self.policy(["git.example": ["203.0.113.5", "2001:db8::5"]])
        let https = try policy.check(RemoteURL("https://git.example/org/x.git"))
        #expect(https.config.map { "\($0.0)=\($0.1)" } == [
            "protocol.https.allow=always", "http.followRedirects=false", "http.curloptResolve=git.example:443:203.0.113.5,[2001:db8::5]",
        ])
        #expect(https.destination == "https://git.example/org/x.git" && https.receivePack == nil)
        let ssh = try policy.check(RemoteURL("git@git.example:org/x.git"))
        #expect(ssh.config.map(\.0) == ["protocol.ssh.allow"])
        #expect(ssh.sshOptions == ["-o", "HostName=203.0.113.5", "-o", "HostKeyAlias=git.example"])
        let git = try policy.check(RemoteURL("git://git.example:9419/x.git"))
        #expect(git.destination == "git://203.0.113.5:9419/x.git")
        #expect(git.config.map(\.0) == ["protocol.git.allow"])
        let literal = try policy.check(RemoteURL("https://203.0.113.5:8443/x.git"))
        #expect(!literal.config.contains { $0.0 == "http.curloptResolve" })
        #expect(GitRunner.baseConfig.contains { $0 == ("protocol.allow", "never") } && GitRunner.baseConfig.contains { $0 == ("core.hooksPath", "/dev/null") })
    }
}
