import Foundation

/// Which remotes a deployment may push to. Open to anyone: `https://`, `ssh://`, `git://` and
/// scp-style remotes whose host resolves only to public addresses that are not this host's.
/// Only when the operator lists a prefix (`SANDBOX_HOST_DEPLOY_ALLOWED_REMOTES`): `http://`,
/// `file://`, local paths, and hosts on loopback, private, link-local or this host's addresses.
/// Never, whatever is listed: a local repository under `protectedRoot` (the data directory,
/// where tenants' workspaces and sites live).
public struct RemotePolicy: Sendable {
    public let allowed: [RemoteURL]
    /// The entries of the list that are not remotes, for the operator's log.
    public let invalidEntries: [String]
    public let protectedRoot: String
    public var resolveTimeout: Duration = .seconds(5)
    /// Name resolution and this host's addresses; replaceable so tests need no DNS.
    var resolve: @Sendable (String, Duration) throws -> [IPAddress] = HostResolver.resolve
    var ownAddresses: @Sendable () -> Set<IPAddress> = HostResolver.ownAddresses

    public init(allowedPrefixes: [String], protectedRoot: String) {
        var allowed: [RemoteURL] = []
        var invalid: [String] = []
        for entry in allowedPrefixes.map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            // `git@host:` has no path yet; as a prefix it means every path on that host.
            if let remote = try? RemoteURL(entry.hasSuffix(":") ? entry + "/" : entry) { allowed.append(remote) } else { invalid.append(RemoteURL.redact(entry)) }
        }
        self.allowed = allowed
        self.invalidEntries = invalid
        self.protectedRoot = protectedRoot
    }

    /// Checks `remote` and answers how to push to it. Blocking (file system, name resolution
    /// with `resolveTimeout`): call it on a thread of its own. Errors name the host, never a
    /// credential, and say what to change.
    public func check(_ remote: RemoteURL) throws -> PushTarget {
        switch remote.kind {
        case .file, .local:
            return try checkLocal(remote)
        case .http:
            guard isListed(remote) else {
                throw DeployError("remote_url must use https://, not http:// (an operator may allow a plain-http server in SANDBOX_HOST_DEPLOY_ALLOWED_REMOTES)")
            }
            return try checkNetwork(remote, listed: true)
        case .https, .ssh, .scp, .git:
            return try checkNetwork(remote, listed: isListed(remote))
        }
    }

    private func checkNetwork(_ remote: RemoteURL, listed: Bool) throws -> PushTarget {
        let host = remote.host ?? ""
        let transport = remote.kind == .scp ? "ssh" : remote.kind.rawValue
        var config = [("protocol.\(transport).allow", "always")]
        if remote.kind == .https || remote.kind == .http { config.append(("http.followRedirects", "false")) }
        // An operator-listed server is trusted as named: no check, no pin (it may be an ssh alias).
        if listed { return PushTarget(remote: remote, destination: remote.raw, config: config, receivePack: nil, sshOptions: []) }
        let addresses = try IPAddress(host).map { [$0] } ?? resolve(host, resolveTimeout)
        let own = ownAddresses()
        for address in addresses {
            let reason = address.internalRange.map { "a \($0) address" }
                ?? ((own.contains(address) || address.embeddedIPv4.map(own.contains) == true) ? "an address of this host" : nil)
            if let reason {
                let via = IPAddress(host) == nil ? " (it resolves to \(address))" : ""
                throw DeployError("remote_url's host \(remote.displayHost) is \(reason)\(via): deployments push only to public hosts unless the operator lists the remote in SANDBOX_HOST_DEPLOY_ALLOWED_REMOTES")
            }
        }
        // Pin what git connects to, so a second answer from the name's DNS cannot differ from
        // the one checked (DNS rebinding). A literal address needs no pin.
        guard IPAddress(host) == nil, let first = addresses.first else {
            return PushTarget(remote: remote, destination: remote.raw, config: config, receivePack: nil, sshOptions: [])
        }
        switch remote.kind {
        case .https, .http:
            let list = addresses.map { $0.isIPv6 ? "[\($0)]" : "\($0)" }.joined(separator: ",")
            config.append(("http.curloptResolve", "\(host):\(remote.effectivePort):\(list)"))
            return PushTarget(remote: remote, destination: remote.raw, config: config, receivePack: nil, sshOptions: [])
        case .ssh, .scp:
            // ssh matches its config's `Host` blocks and known_hosts by the name, connects to the address.
            return PushTarget(remote: remote, destination: remote.raw, config: config, receivePack: nil,
                              sshOptions: ["-o", "HostName=\(first)", "-o", "HostKeyAlias=\(host)"])
        default:
            // git://: the address in place of the name (a daemon's virtual hosting by name is lost).
            let literal = first.isIPv6 ? "[\(first)]" : "\(first)"
            let destination = "git://\(literal)\(remote.port.map { ":\($0)" } ?? "")\(remote.path)"
            return PushTarget(remote: remote, destination: destination, config: config, receivePack: nil, sshOptions: [])
        }
    }

    private func checkLocal(_ remote: RemoteURL) throws -> PushTarget {
        // The same answer for a path that is missing and one that is not listed: no probing the
        // host's file system through this message.
        guard let canonical = Self.realPath(remote.path),
              allowed.contains(where: { ($0.kind == .file || $0.kind == .local) && Self.isWithin(canonical, Self.realPath($0.path) ?? $0.path) })
        else {
            throw DeployError("remote_url must be an https://, ssh:// or git:// URL or scp-style user@host:path; a local repository needs the operator to list it in SANDBOX_HOST_DEPLOY_ALLOWED_REMOTES")
        }
        let protected = Self.realPath(protectedRoot) ?? protectedRoot
        guard !Self.repositoryPlaces(canonical).contains(where: { Self.isWithin($0, protected) }) else {
            throw DeployError("remote_url names a place inside the host's data directory, where no deployment may push")
        }
        return PushTarget(remote: remote, destination: canonical, config: [("protocol.file.allow", "always")],
                          receivePack: PushTarget.localReceivePack, sshOptions: [])
    }

    /// Whether an operator's entry covers `remote`: the same transport, host and port, and a path
    /// at or below the entry's (a path prefix ending at a `/`).
    func isListed(_ remote: RemoteURL) -> Bool {
        func transport(_ kind: RemoteURL.Kind) -> String { kind == .scp ? "ssh" : kind.rawValue }
        return allowed.contains { entry in
            guard transport(entry.kind) == transport(remote.kind), entry.host == remote.host,
                  entry.effectivePort == remote.effectivePort else { return false }
            let base = entry.path.hasPrefix("/") || entry.kind != .scp ? entry.path : "/" + entry.path
            let path = remote.path.hasPrefix("/") || remote.kind != .scp ? remote.path : "/" + remote.path
            return base.isEmpty || base == "/" || Self.isWithin(path, base)
        }
    }

    /// Every directory git's `enter_repo` may open for `path` (`path/.git`, `path`, `path.git/.git`,
    /// `path.git`), followed through `gitdir:` files and `commondir`, canonical.
    static func repositoryPlaces(_ path: String) -> [String] {
        var places: [String] = []
        var queue = [path + "/.git", path, path + ".git/.git", path + ".git"]
        var seen = 0
        while !queue.isEmpty, seen < 16 {
            seen += 1
            guard let place = realPath(queue.removeFirst()) else { continue }
            places.append(place)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: place, isDirectory: &isDirectory) else { continue }
            let parent = (place as NSString).deletingLastPathComponent
            if !isDirectory.boolValue {
                if let text = try? String(contentsOfFile: place, encoding: .utf8), text.hasPrefix("gitdir:") {
                    queue.append(absolute(text.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines), relativeTo: parent))
                }
            } else if let text = try? String(contentsOfFile: place + "/commondir", encoding: .utf8) {
                queue.append(absolute(text.trimmingCharacters(in: .whitespacesAndNewlines), relativeTo: place))
            }
        }
        return places
    }

    private static func absolute(_ path: String, relativeTo base: String) -> String {
        path.hasPrefix("/") ? path : base + "/" + path
    }

    static func realPath(_ path: String) -> String? {
        guard !path.isEmpty, let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `path` is `base` or below it, component-wise (`/srv/git2` is not within `/srv/git`).
    static func isWithin(_ path: String, _ base: String) -> Bool {
        let trimmed = base.count > 1 && base.hasSuffix("/") ? String(base.dropLast()) : base
        return path == trimmed || trimmed == "/" || path.hasPrefix(trimmed + "/")
    }
}
