import Deploy
import FileAPI
import Foundation
import HTTPTypes
import Logging
import NIOPosix
import SandboxRuntime

/// Runs deployments: commit the workspace to the project's repository, push it when a remote is
/// given, build inside the sandbox when asked (or when `package.json` has a `build` script), copy
/// the output out and switch the served site to it. One deployment per project at a time (later
/// ones wait their turn); each is recorded with its state as it moves
/// `preparing → pushing → building → deployed | failed`.
actor DeployService {
    /// Removes the host's own snapshot and site copies (at most 256 levels deep: `TreeCopy`'s
    /// cap) holding few descriptors while a deploy runs beside every other request.
    static let copyRemover = TreeRemover(maxOpen: 16)

    let store: DeploymentStore
    let paths: DeploymentPaths
    let workspaces: WorkspaceStore
    let runtime: SandboxRuntime
    let remotePolicy: RemotePolicy
    let logger: Logger
    private var busy: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    init(
        store: DeploymentStore, paths: DeploymentPaths, workspaces: WorkspaceStore, runtime: SandboxRuntime,
        remotePolicy: RemotePolicy, logger: Logger
    ) {
        self.store = store
        self.paths = paths
        self.workspaces = workspaces
        self.runtime = runtime
        self.remotePolicy = remotePolicy
        self.logger = logger
    }

    func deploy(_ project: Project, _ request: DeployRequest) async throws -> Deployment {
        await acquire(project.id)
        defer { release(project.id) }
        var deployment = Deployment(
            id: Identifier.uuid(), projectID: project.id, state: .preparing, branch: request.branch,
            remoteURL: request.remote?.raw, buildCommand: request.buildCommand, outputDirectory: request.outputDirectory,
            message: request.message, commit: nil, error: nil, createdAt: Timestamp.iso8601(), readyAt: nil)
        try await store.insert(deployment)
        do {
            try await run(&deployment, project, request)
            deployment.state = .deployed
            deployment.readyAt = Timestamp.iso8601()
        } catch {
            deployment.state = .failed
            deployment.error = Self.describe(error)
            logger.info("deployment failed", metadata: ["project": "\(project.id)", "error": "\(deployment.error ?? "")"])
            // A workspace too large or too deep to copy is the request's fault: recorded as a
            // failed deployment and answered with its status (413, 400).
            if let error = error as? FileAPIError, error.kind == .tooLarge || error.kind == .invalidRequest {
                try await store.update(deployment)
                throw HostError(error)
            }
        }
        try await store.update(deployment)
        return deployment
    }

    /// The snapshot git commits: everything but the directories the repository always leaves
    /// out (whatever a `.gitignore` says), links as links; the snapshot's own `.gitignore` applies.
    static let snapshot = TreeCopy(skipped: Set(ProjectRepository.excluded.map { String($0.dropLast()) }), copyLinks: true)

    /// The published site: regular files and directories, heavy directories and links left out.
    static let publish = TreeCopy(skipped: HeavyDirectories.names, copyLinks: false)

    private func run(_ deployment: inout Deployment, _ project: Project, _ request: DeployRequest) async throws {
        let root = try WorkspaceRoot(path: workspaces.path(projectID: project.id))
        let repository = ProjectRepository(gitDir: paths.repository(project.id))
        let (branch, message) = (request.branch, request.message)
        let (stagingRoot, staging) = (paths.stagingRoot, paths.staging(deployment.id))
        // git walks its work tree by path and would follow a directory the sandbox swaps for a
        // link meanwhile: it commits a host-only copy made by descriptor, never the live workspace.
        deployment.commit = try await Self.onOwnThread {
            mkdir(stagingRoot, 0o700)
            defer { _ = try? Self.copyRemover.remove(path: staging) }
            _ = try Self.snapshot.copy(root, WorkspacePath(""), to: staging, mode: 0o700)
            return try repository.commit(workTree: staging, branch: branch, message: message, author: "sandbox-host")
        }
        try await store.update(deployment)
        if let remote = request.remote {
            deployment.state = .pushing
            try await store.update(deployment)
            // Checked again at the push, not only when the request came in: an update reuses a stored
            // remote, and a name may resolve differently now; the push goes to what this check saw.
            let policy = remotePolicy
            try await Self.onOwnThread { try repository.push(to: policy.check(remote), branch: branch) }
        }
        var buildCommand = request.buildCommand
        if buildCommand == nil, request.outputDirectory == nil, try await blocking({ Self.hasBuildScript(root) }) {
            buildCommand = "npm run build"
        }
        if let command = buildCommand {
            deployment.state = .building
            try await store.update(deployment)
            let record = try await runtime.ensureActive(projectID: project.id, image: project.image)
            var exec = ExecRequest(command: command)
            exec.timeoutSeconds = request.buildTimeout
            let result = try await runtime.execute(record, exec)
            guard result.exit_code == 0 else {
                let tail = result.output.split(separator: "\n").suffix(5).joined(separator: "\n")
                throw DeployError(result.timed_out
                    ? "the build did not finish within \(Int(request.buildTimeout)) s"
                    : "the build failed with exit code \(result.exit_code): \(tail)")
            }
        }
        let built = buildCommand != nil
        let output = try await blocking { try Self.outputDirectory(root, given: request.outputDirectory, built: built) }
        let (site, sites, current, id) = (paths.site(project.id, deployment.id), paths.sites(project.id), paths.current(project.id), deployment.id)
        try await Self.onOwnThread {
            try FileManager.default.createDirectory(atPath: sites, withIntermediateDirectories: true)
            do {
                _ = try Self.publish.copy(root, output, to: site)
            } catch {
                _ = try? Self.copyRemover.remove(path: site)
                throw error
            }
            // The switch: a new link renamed over the old one, so a reader sees one site or the other.
            let temporary = current + ".next-" + id
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: "sites/" + id)
            guard rename(temporary, current) == 0 else { throw DeployError("cannot switch the served site") }
        }
    }

    /// The directory to publish: the one given, else (after a build) the first of `dist`,
    /// `build`, `out` that exists, else the workspace itself.
    static func outputDirectory(_ root: WorkspaceRoot, given: String?, built: Bool) throws -> WorkspacePath {
        if let given {
            let path = try WorkspacePath(given)
            guard root.isDirectory(path) else { throw DeployError("output_dir \(path) is not a directory in the workspace") }
            return path
        }
        if built {
            for name in ["dist", "build", "out"] {
                let path = try WorkspacePath(name)
                if root.isDirectory(path) { return path }
            }
            throw DeployError("the build made none of dist, build, out: give output_dir")
        }
        return try WorkspacePath("")
    }

    /// Whether `package.json` has a `build` script.
    static func hasBuildScript(_ root: WorkspaceRoot) -> Bool {
        guard let file = try? root.openForReading(try WorkspacePath("package.json")), file.size < 1 << 20 else { return false }
        var data = Data(count: Int(file.size))
        let count = data.withUnsafeMutableBytes { read(file.fd.raw, $0.baseAddress!, $0.count) }
        guard count == Int(file.size),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let scripts = json["scripts"] as? [String: Any] else { return false }
        return scripts["build"] is String
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as DeployError: error.message
        case let error as FileAPIError: error.message
        case let error as HostError: error.message
        case let error as RuntimeError: error.message
        default: "internal error"
        }
    }

    /// `raw` as a remote this host may push to, or a 400 saying why not (naming the host, never a
    /// credential). Resolves the host on a thread of its own, with the policy's deadline.
    nonisolated func acceptRemote(_ raw: String) async throws -> RemoteURL {
        let policy = remotePolicy
        do {
            let remote = try RemoteURL(raw)
            return try await Self.onOwnThread { try policy.check(remote).remote }
        } catch let error as DeployError {
            throw error.isBusy ? HostError(.rateLimited, error.message, retryAfterSeconds: 1) : HostError(.validation, error.message)
        }
    }

    /// git may wait on a slow remote for up to its deadline, a name lookup on the resolver's, and
    /// a copy of a workspace on its own: each gets a thread of its own rather than one of the
    /// shared pool's few, which every file route needs (`DedicatedThread`, capped for the host).
    private static func onOwnThread<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await DedicatedThread.run("deploy", body)
    }

    private func blocking<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    private func acquire(_ projectID: String) async {
        if busy.insert(projectID).inserted { return }
        await withCheckedContinuation { waiting[projectID, default: []].append($0) }
    }

    private func release(_ projectID: String) {
        if var queue = waiting[projectID], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[projectID] = queue.isEmpty ? nil : queue
            next.resume()  // the turn passes on; the project stays busy
        } else {
            busy.remove(projectID)
        }
    }
}
