import AgentLoop
import Foundation
import Logging
import SandboxRuntime

/// Starts, stops and finishes agent runs: one task per running run, which ensures the
/// project's sandbox, replays the thread to the model through `AgentRunner`, and records
/// everything through a `RunRecorder`.
actor AgentService {
    /// The provider and what the host was told about it; nil provider with the reason when
    /// nothing (or something unusable) is configured.
    struct Provider: Sendable {
        let configuration: ProviderConfiguration?
        let problem: String?
        let client: (any ModelProvider)?
    }

    let provider: Provider
    let runs: AgentRunStore
    let threads: ThreadStore
    let projects: ProjectStore
    let runtime: SandboxRuntime
    let workspaces: WorkspaceStore
    let configuration: HostConfiguration
    let sandboxes: SandboxStore
    let devServers: DevServerRegistry
    /// Frames are built by the HTTP layer's `ServerSentEvents`, once per event, and held by
    /// the hub as opaque bytes.
    let hub = AgentRunHub(frame: { ServerSentEvents.event(id: $0, json: $1) })
    let retry: RetryPolicy
    let logger: Logger
    private var tasks: [String: Task<Void, Never>] = [:]

    init(
        provider: Provider, runs: AgentRunStore, threads: ThreadStore, projects: ProjectStore, runtime: SandboxRuntime,
        workspaces: WorkspaceStore, configuration: HostConfiguration, sandboxes: SandboxStore, devServers: DevServerRegistry,
        retry: RetryPolicy, logger: Logger
    ) {
        self.sandboxes = sandboxes
        self.devServers = devServers
        self.provider = provider
        self.runs = runs
        self.threads = threads
        self.projects = projects
        self.runtime = runtime
        self.workspaces = workspaces
        self.configuration = configuration
        self.retry = retry
        self.logger = logger
    }

    /// The provider from the environment and `DATA_DIR/config.json`, or why there is none.
    static func loadProvider(environment: [String: String], dataDir: String) -> Provider {
        do {
            guard let configuration = try ProviderConfiguration.load(environment: environment, configFile: dataDir + "/config.json") else {
                return Provider(configuration: nil, problem: ProviderConfiguration.howToConfigure, client: nil)
            }
            return Provider(configuration: configuration, problem: nil, client: configuration.makeProvider())
        } catch let error as AgentLoopError {
            return Provider(configuration: nil, problem: error.message, client: nil)
        } catch {
            return Provider(configuration: nil, problem: "the model provider's configuration cannot be read", client: nil)
        }
    }

    /// Starts a run on the caller's thread: 400 without a provider or with an unknown model,
    /// 404 for a thread that is not the caller's, 409 while another run of it is running.
    func start(threadID: String, userID: String, message: String?, model requested: String?, maxSteps: Int) async throws -> AgentRun {
        try checkReady(model: requested)
        guard let configuration = provider.configuration, let client = provider.client else { throw HostError.internalError("no provider") }
        let model = requested ?? configuration.defaultModel
        guard let thread = try await threads.get(id: threadID, userID: userID),
              let project = try await projects.get(id: thread.projectID, userID: userID) else {
            throw HostError.notFound("thread")
        }
        if message == nil, try await threads.messages(threadID: threadID, userID: userID)?.isEmpty ?? true {
            throw HostError(.unprocessable, "the thread has no message yet: send one in 'message'")
        }
        guard case .started(let run) = try await runs.start(threadID: threadID, model: model, maxSteps: maxSteps, userMessage: message) else {
            throw HostError(.conflict, "a run is already active on this thread; stop it or wait for it to finish")
        }
        hub.open(run.id)
        let recorder = RunRecorder(runID: run.id, threadID: threadID, store: runs, threads: threads, hub: hub)
        do {
            try await recorder.emit(.status("running", message: nil))
        } catch {
            // No task will close it: its tail would stay.
            hub.close(run.id)
            throw error
        }
        let plan = RunPlan(
            client: client, model: model, system: SystemPrompt.make(projectName: project.name), maxSteps: maxSteps,
            contextTokens: configuration.contextTokens)
        tasks[run.id] = Task { [self] in
            await self.execute(run: run, project: project, plan: plan, recorder: recorder)
        }
        return run
    }

    /// Throws the 400 `start` would, before anything is created (`initiate`).
    func checkReady(model: String?) throws {
        guard let configuration = provider.configuration else {
            throw HostError(.validation, provider.problem ?? ProviderConfiguration.howToConfigure)
        }
        if let model, !configuration.models.contains(model) {
            throw HostError(.validation, "model '\(model.prefix(100))' is not configured; available: \(configuration.models.joined(separator: ", "))")
        }
    }

    /// Cancels the run's task; answers false when the run is not running here.
    func stop(runID: String) -> Bool {
        guard let task = tasks[runID] else { return false }
        task.cancel()
        return true
    }

    /// What a run was started with, for its task to build the runner once the sandbox is up.
    struct RunPlan: Sendable {
        let client: any ModelProvider
        let model: String
        let system: String
        let maxSteps: Int
        let contextTokens: Int
    }

    private func execute(run: AgentRun, project: Project, plan: RunPlan, recorder: RunRecorder) async {
        var status = AgentRun.Status.completed
        var failure: String?
        do {
            let record = try await runtime.ensureActive(projectID: project.id, image: project.image)
            let tools = SandboxToolbox(
                record: record, runtime: runtime, workspacePath: workspaces.path(projectID: project.id), configuration: configuration,
                workspaces: workspaces, sandboxes: sandboxes, devServers: devServers)
            let runner = AgentRunner(
                provider: plan.client, model: plan.model, toolbox: Toolbox(sandbox: tools), system: plan.system,
                maxSteps: plan.maxSteps, contextTokens: plan.contextTokens, retry: retry)
            let history = try await threads.conversation(threadID: run.threadID)
            switch try await runner.run(history: history, sink: recorder) {
            case .completed: status = .completed
            case .failed(let message): (status, failure) = (.failed, message)
            }
        } catch is CancellationError {
            status = .stopped
        } catch let error as HostError {
            (status, failure) = Task.isCancelled ? (.stopped, nil) : (.failed, error.message)
        } catch let error as RuntimeError {
            (status, failure) = Task.isCancelled ? (.stopped, nil) : (.failed, error.message)
        } catch {
            if Task.isCancelled {
                status = .stopped
            } else {
                logger.error("agent run failed", metadata: ["run": "\(run.id)", "error": "\(error)"])
                (status, failure) = (.failed, "the run failed inside the host")
            }
        }
        // In a task of its own: a stopped run's task is cancelled, and these writes must happen.
        let (runs, hub, logger) = (self.runs, self.hub, self.logger)
        let final = status, reason = failure
        await Task {
            do {
                if let reason { try await recorder.emit(.error(reason)) }
                try await recorder.emit(.status(final.rawValue, message: reason ?? (final == .stopped ? "stopped by request" : nil)))
                try await runs.finish(runID: run.id, status: final, error: reason)
            } catch {
                logger.error("cannot record the end of an agent run", metadata: ["run": "\(run.id)", "error": "\(error)"])
            }
            hub.close(run.id)
        }.value
        tasks[run.id] = nil
    }
}
