import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A sandbox's network around its life: attached (a prepared namespace, its policy in force)
/// before sandbox-init starts, detached once every process of it is gone (a stop, a delete, or a
/// start that failed). Without `networking`, a sandbox has its own loopback only.
extension SandboxRuntime {
    /// The sandbox's network attachment, its record's policy (or the host's default) in force;
    /// nil without networking. A failure is a 503: the sandbox does not start.
    func attachNetwork(_ record: SandboxRecord) async throws -> NetworkAttachment? {
        guard let networking else { return nil }
        // The newest policy: one a PUT set after the caller read its record counts.
        let policy = networkPolicy(for: record)
        do {
            return try await networking.attach(sandboxID: record.id, policy: policy)
        } catch {
            logger.error("sandbox network not prepared", metadata: ["sandbox": "\(record.id)", "error": "\(error)"])
            throw RuntimeError(.sandboxUnavailable, "the sandbox's network could not be prepared", cause: error)
        }
    }

    /// Detaches the sandbox's network and removes its resolv.conf; never throws.
    func detachNetwork(_ sandboxID: String) async {
        guard let networking else { return }
        await networking.detach(sandboxID: sandboxID)
        unlink(resolvConfPath(sandboxID))
    }

    /// The file bound read-only over the sandbox's /etc/resolv.conf: `<dataDir>/run/resolv/<id>`
    /// (host-owned, outside anything a tenant writes).
    nonisolated func resolvConfPath(_ sandboxID: String) -> String {
        // Absolute: sandbox-init opens it after it left the host's working directory (a
        // relative data directory, `make run`'s ./data, made it "No such file" at open-tree).
        URL(fileURLWithPath: configuration.dataDir).standardizedFileURL.path + "/run/resolv/" + sandboxID
    }

    /// Writes the sandbox's resolv.conf: the resolver, or (no resolver: `none` mode) a comment.
    nonisolated static func writeResolvConf(_ path: String, nameserver: String?) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try Data(resolvConfText(nameserver).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    nonisolated static func resolvConfText(_ nameserver: String?) -> String {
        nameserver.map { "nameserver \($0)\noptions ndots:0\n" } ?? "# This sandbox's network policy allows no name lookups.\n"
    }

    /// A running sandbox's policy changed mode: its resolv.conf is rewritten in place (the same
    /// file stays bound over its /etc/resolv.conf, so a new file would not be seen). Host-owned,
    /// outside the tenant's reach; opened without following links all the same.
    func rewriteResolvConf(_ sandboxID: String, policy: NetworkPolicy) async {
        guard let networking else { return }
        let path = resolvConfPath(sandboxID)
        let text = Self.resolvConfText(policy.mode == .none ? nil : networking.resolverAddress)
        _ = try? await DedicatedThread.run("resolv.conf") {
            let fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }
}
