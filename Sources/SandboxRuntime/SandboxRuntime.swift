import Crypto
import FileAPI
import Foundation
import Logging
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Creates, starts, stops and deletes sandboxes, and runs commands in them.
///
/// Lifecycle changes go through this actor (so concurrent `ensureActive` calls make one sandbox);
/// commands do not: `execute` talks to the running `SandboxProcess` directly, in parallel.
public actor SandboxRuntime {
    public let configuration: RuntimeConfiguration
    let store: any SandboxRecordStore
    let workspaces: WorkspaceStore
    nonisolated let cgroups: CgroupManager
    public nonisolated let images: ImageStore
    let poller: EventPoller
    let logger: Logger
    /// The sandboxes' network (links, rules, resolver); nil: each sandbox has its own loopback only.
    nonisolated let networking: (any SandboxNetworking)?
    private var running: [String: SandboxProcess] = [:]
    /// Starts in flight (a policy change waits for one, then applies to the sandbox it started).
    var starting: [String: Task<SandboxProcess, any Error>] = [:]
    private var stopping: [String: Task<Void, any Error>] = [:]
    /// Sandboxes being deleted: nothing starts them meanwhile (`process(for:)` refuses with a
    /// 404), and a second delete waits for the first (see `SandboxRuntime+Delete`).
    var deleting: [String: Task<Void, any Error>] = [:]
    /// Policies set through `updateNetworkPolicy` since this host started, per sandbox (until it
    /// is deleted): newer than a record a request read before the change (see
    /// SandboxRuntime+NetworkPolicy).
    var networkPolicies: [String: NetworkPolicy] = [:]
    /// Policy changes in flight per sandbox, each waiting for the one before: applied in the order
    /// they were persisted.
    var networkUpdates: [String: Task<Void, any Error>] = [:]
    /// Projects being deleted: `ensureActive` refuses them.
    var closingProjects: [String: Task<Void, Never>] = [:]
    /// Last API activity (monotonic seconds) and commands in flight, per sandbox: read by the
    /// idle sweep, written on every command without a hop through the actor.
    private let activity = Mutex<[String: (last: Double, busy: Int, wall: Int64)]>([:])
    private var sweeper: Task<Void, Never>?
    /// Open sessions per sandbox; read and written without a hop through the actor, and never
    /// held across a disk operation.
    let sessions = Mutex<[String: [String: Session]]>([:])
    /// Serialises opening one session (reading, converting its files), per sandbox and name.
    let sessionOpening = KeyedLocks()

    public init(
        configuration: RuntimeConfiguration, store: any SandboxRecordStore, workspaces: WorkspaceStore, logger: Logger,
        networking: (any SandboxNetworking)? = nil
    ) throws {
        self.networking = networking
        self.configuration = configuration
        self.store = store
        self.workspaces = workspaces
        self.cgroups = CgroupManager(instance: Self.instanceKey(configuration.dataDir))
        self.images = ImageStore(root: configuration.dataDir + "/images")
        self.poller = .shared
        self.logger = logger
        // Sandboxes end with the host that ran them (PID 1 exits when its control socket
        // closes); what a crash left behind in cgroups is removed before anything starts.
        cgroups.removeLeftovers()
    }

    /// The sandbox-init binary: beside this executable unless `SANDBOX_HOST_INIT_PATH` says otherwise.
    public static func defaultHelperPath(environment: [String: String]) -> String {
        if let path = environment["SANDBOX_HOST_INIT_PATH"], !path.isEmpty { return path }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("sandbox-init").path
    }

    /// This host's name among cgroups (`…/sandbox-host/<key>/`): the first 6 bytes of the SHA-256
    /// of its standardized data directory, in hex. Stable across versions, so a newer host's sweep
    /// finds what an older one left.
    public static func instanceKey(_ dataDir: String) -> String {
        let path = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        return SHA256.hash(data: Array(path.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Lifecycle

    /// Creates the project's sandbox if it has none and starts it if it is not running. A project
    /// being deleted is a 404; a sandbox being deleted is waited for, then replaced by a fresh one
    /// (a few times at most), never started again.
    public func ensureActive(projectID: String, image: String) async throws -> SandboxRecord {
        for _ in 0..<3 {
            try refuseIfClosing(projectID)
            let record = try await store.findOrCreateSandbox(projectID: projectID, image: image, limits: configuration.defaultLimits)
            try refuseIfClosing(projectID)
            if let pending = deleting[record.id] {
                _ = await pending.result
                continue
            }
            do {
                _ = try await process(for: record)
                return record
            } catch let error as RuntimeError where error.code == .notFound {
                continue  // deleted between the lookup and the start
            }
        }
        throw RuntimeError.notFound("sandbox")
    }

    /// The running process of a sandbox, starting it when stopped. Concurrent callers share one start.
    func process(for record: SandboxRecord) async throws -> SandboxProcess {
        try refuseIfDeleting(record.id)
        if let process = running[record.id], process.isAlive { return process }
        // A stop in progress finishes (processes gone, cgroups removed) before a new start.
        if let pending = stopping[record.id] { _ = try? await pending.value }
        try refuseIfDeleting(record.id)
        if let process = running[record.id], process.isAlive { return process }
        if let pending = starting[record.id] { return try await pending.value }
        let task = Task { () async throws -> SandboxProcess in
            let process = try await self.start(record)
            // Recorded by the start itself, before anyone waiting for it resumes: a stop or a
            // delete that waited for this start then finds the process to kill.
            self.running[record.id] = process
            return process
        }
        starting[record.id] = task
        defer { starting[record.id] = nil }
        let process = try await task.value
        touch(record.id)
        startSweeperIfNeeded()
        return process
    }

    private func start(_ record: SandboxRecord) async throws -> SandboxProcess {
        let began = MonotonicClock.seconds()
        // A request holding the record of a sandbox deleted since: never started again.
        guard try await store.sandboxExists(id: record.id) else { throw RuntimeError.notFound("sandbox") }
        let paths = SandboxPaths(directory: workspaces.layersPath(projectID: record.projectID))
        let workspace = workspaces.path(projectID: record.projectID)
        let limits = record.limits
        let cgroups = self.cgroups
        let workspaces = self.workspaces
        let helper = configuration.helperPath
        let poller = self.poller
        let (image, usrLower) = try await imageLayers(record.image)
        guard access(helper, X_OK) == 0 else {
            logger.error("sandbox helper missing", metadata: ["path": "\(helper)"])
            throw RuntimeError(.sandboxUnavailable, "the sandbox helper (sandbox-init) is missing beside sandbox-host; build it (make build)")
        }
        // The network is attached (a slot taken, its policy put in force: up to a millisecond of
        // nftables when the policy is not the pool's) while a thread prepares the volume and the
        // cgroups. The attach is awaited here, between the two threads, never on one: it may need a
        // `DedicatedThread` of its own, and starts blocked on their attaches could hold every slot
        // (256 starts at once would then wait on each other for good).
        let attaching = Task { try await self.attachNetwork(record) }
        let resolvConf = resolvConfPath(record.id)
        let process: SandboxProcess
        do {
            // On a thread of its own: mounting the volume waits for its project's lock, and
            // re-owning a workspace walks the tenant's tree; neither may hold the shared pool.
            let joined = try await DedicatedThread.run("start sandbox") {
                try workspaces.ensureVolume(projectID: record.projectID)
                try paths.prepare(uidBase: record.uidBase, workspace: workspace)
                return try cgroups.create(record.id, limits: limits)
            }
            let attachment = try await attaching.value
            process = try await DedicatedThread.run("spawn sandbox") {
                if let attachment { try Self.writeResolvConf(resolvConf, nameserver: attachment.nameserver) }
                var arguments = [
                    "--sandbox-dir", paths.directory, "--lower-root", image, "--workspace", workspace, "--uid-base", String(record.uidBase),
                    "--tmp-size", String(Int64(limits.diskMB) << 20), "--hostname", "sandbox",
                ]
                for file in joined { arguments += ["--cgroup", file] }
                if let usrLower { arguments += ["--usr-lower", usrLower] }
                if let attachment { arguments += ["--netns", attachment.namespacePath, "--resolv-conf", resolvConf] }
                return try SandboxProcess.launch(sandboxID: record.id, helper: helper, arguments: arguments, poller: poller)
            }
        } catch {
            // The attach may still be running (the volume failed first): detached once it ended.
            _ = try? await attaching.value
            await detachNetwork(record.id)
            throw error
        }
        do {
            try await process.waitReady()
        } catch {
            process.kill()
            await process.waitDead()
            await process.waitReaped()
            try? await DedicatedThread.run("cgroup remove") { cgroups.remove(record.id) }
            await detachNetwork(record.id)
            logger.error("sandbox failed to start", metadata: ["sandbox": "\(record.id)", "error": "\(error)"])
            throw RuntimeError(.sandboxUnavailable, "the sandbox could not start: \(Self.stage(of: error))", cause: error)
        }
        // No database write here: whether a sandbox runs is known from its process, and a start
        // should not wait for an fsync. The row is updated when it stops.
        configuration.timings?.sandboxStarted(seconds: MonotonicClock.seconds() - began)
        return process
    }

    private static func stage(of error: any Error) -> String {
        if case .setup(let stage, let code)? = error as? RuntimeFailure { return "\(stage) (\(String(cString: strerror(code))))" }
        return "internal error"
    }

    /// The host pid of a running sandbox's PID 1 (for tests and diagnostics).
    public func initPID(_ sandboxID: String) -> Int32? {
        running[sandboxID]?.initPID
    }

    /// The process of a sandbox this runtime started and has not stopped (alive or not).
    func runningProcess(_ sandboxID: String) -> SandboxProcess? {
        running[sandboxID]
    }

    /// The sandboxes this runtime started whose PID 1 is alive.
    var runningIDs: [String] {
        running.compactMap { $0.value.isAlive ? $0.key : nil }
    }

    /// A descriptor standing for the running sandbox's PID 1 (a pidfd; the caller closes it):
    /// `setns(fd, CLONE_NEWNET)` enters its network namespace, as `/proc/<pid>/ns/net` would,
    /// but can never reach another process that reused the pid. Nil when it is not running.
    public func initProcessDescriptor(_ sandboxID: String) -> Int32? {
        running[sandboxID]?.duplicateInitPidFD()
    }

    /// Whether the sandbox has a live PID 1 now.
    public func isRunning(_ sandboxID: String) -> Bool {
        running[sandboxID]?.isAlive ?? false
    }

    /// Stops a sandbox: every process killed, cgroups removed; its files stay.
    public func stop(_ sandboxID: String) async throws {
        if let pending = starting[sandboxID] { _ = try? await pending.value }
        if let pending = stopping[sandboxID] { return try await pending.value }
        guard let process = running.removeValue(forKey: sandboxID) else { return }
        let task = Task { try await self.finishStop(sandboxID, process) }
        stopping[sandboxID] = task
        defer { stopping[sandboxID] = nil }
        try await task.value
    }

    private func finishStop(_ sandboxID: String, _ process: SandboxProcess) async throws {
        process.kill()
        await process.waitDead()
        await process.waitReaped()
        let cgroups = self.cgroups
        // Emptying and removing the groups waits for the kernel (freeze, kill, EBUSY retries):
        // on a thread of its own, not the shared pool the file routes use.
        var removalError: (any Error)?
        do {
            try await DedicatedThread.run("cgroup remove") { cgroups.remove(sandboxID) }
        } catch {
            removalError = error
        }
        // After every process of it is gone (PID 1 reaped: its PID namespace is empty), nothing
        // uses its link any more; detached whatever the removal said.
        await detachNetwork(sandboxID)
        if let removalError { throw removalError }
        let lastActive = activity.withLock { $0.removeValue(forKey: sandboxID) }?.wall ?? Timestamp.milliseconds()
        try await store.setSandboxLastActive(id: sandboxID, Timestamp.iso8601(milliseconds: lastActive))
    }

    /// Stops every sandbox (at host shutdown).
    public func stopAll() async {
        for id in Array(running.keys) { try? await stop(id) }
        // Bounded: a disk that stopped answering does not keep the host from stopping.
        _ = try? await DedicatedThread.run("session log drain") { SessionLogWriter.shared.drain(timeout: .seconds(10)) }
        sweeper?.cancel()
        let cgroups = self.cgroups
        try? await DedicatedThread.run("cgroup cleanup") { cgroups.removeLeftovers() }
    }

    private var imageBuild: Task<Void, any Error>?

    /// The image's root, and the `/usr` laid over it (the host's, for the default image only).
    func imageLayers(_ name: String) async throws -> (root: String, usr: String?) {
        if name == ImageStore.defaultName { return (try await defaultImage(), "/usr") }
        guard images.exists(name) else {
            throw RuntimeError(.sandboxUnavailable, "the sandbox's image '\(name)' is not installed on this host")
        }
        return (images.rootfs(name), nil)
    }

    /// The default image's root: a skeleton with a curated `/etc`, built once per data directory
    /// and shared read-only by every sandbox (each sees it through its own idmapped mount).
    ///
    /// One build at a time: the actor is re-entered while a build waits on the thread pool, and
    /// concurrent first creates (twenty agent runs starting together) must share that build, not
    /// race on its staging directory.
    func defaultImage() async throws -> String {
        let path = configuration.dataDir + "/images/default/rootfs"
        if let imageBuild { try await imageBuild.value; return path }
        let build = Task {
            try await NIOThreadPool.singleton.runIfActive {
                if !FileManager.default.fileExists(atPath: path + "/etc/passwd") {
                    // Host-built (not tenant-writable: sandboxes see it read-only), removed the
                    // safe way all the same.
                    let staging = path + ".building-\(getpid())"
                    _ = try? TreeRemover().remove(path: staging)
                    try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
                    try RootfsBuilder.build(at: staging, uidBase: 0)
                    _ = try? TreeRemover().remove(path: path)
                    try FileManager.default.moveItem(atPath: staging, toPath: path)
                }
            }
        }
        imageBuild = build
        do {
            try await build.value
        } catch {
            imageBuild = nil
            throw error
        }
        return path
    }

    // MARK: - Activity and the idle sweep

    /// Records API activity on the sandbox now (and, with `busy`, a command starting or ending).
    public nonisolated func touch(_ sandboxID: String, busy delta: Int = 0) {
        let now = MonotonicClock.seconds()
        let wall = Timestamp.milliseconds()
        activity.withLock { table in
            var entry = table[sandboxID] ?? (last: now, busy: 0, wall: wall)
            entry.last = now
            entry.wall = wall
            entry.busy += delta
            table[sandboxID] = entry
        }
    }

    /// When the API last used a running sandbox (ISO-8601), or nil when it is not running.
    public nonisolated func lastActive(_ sandboxID: String) -> String? {
        activity.withLock { $0[sandboxID]?.wall }.map { Timestamp.iso8601(milliseconds: $0) }
    }

    private func startSweeperIfNeeded() {
        guard sweeper == nil else { return }
        let interval = min(configuration.idleTimeout / 4, .seconds(60))
        sweeper = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.stopIdle()
            }
        }
    }

    func stopIdle() async {
        let timeout = Double(configuration.idleTimeout.components.seconds)
        let now = MonotonicClock.seconds()
        let idle = activity.withLock { table in
            table.filter { $0.value.busy == 0 && now - $0.value.last >= timeout }.map(\.key)
        }
        for id in idle where running[id] != nil {
            // Re-check: a command may have started since the table was read.
            let stillIdle = activity.withLock { table in
                table[id].map { $0.busy == 0 && MonotonicClock.seconds() - $0.last >= timeout } ?? true
            }
            guard stillIdle else { continue }
            logger.info("stopping idle sandbox", metadata: ["sandbox": "\(id)"])
            try? await stop(id)
        }
    }
}
