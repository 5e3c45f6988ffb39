import AgentLoop

/// Where a run's output goes: each event numbered, stored, then published to the hub (into the
/// run's shared tail, its streams woken); messages appended to the thread; usage added to the run.
/// Published only once stored: a stream reads the same events from the tail or the database.
///
/// Its writes run in tasks of their own, so they complete even after the run was stopped (a
/// stopped run still records the killed command's result and its final status).
actor RunRecorder: AgentRunSink {
    let runID: String
    let threadID: String
    let store: AgentRunStore
    let threads: ThreadStore
    let hub: AgentRunHub
    private(set) var sequence = 0

    init(runID: String, threadID: String, store: AgentRunStore, threads: ThreadStore, hub: AgentRunHub) {
        self.runID = runID
        self.threadID = threadID
        self.store = store
        self.threads = threads
        self.hub = hub
    }

    func emit(_ event: AgentEvent) async throws {
        sequence += 1
        let item = (sequence: sequence, payload: AgentEventPayload.text(event, sequence: sequence))
        let (store, runID) = (self.store, self.runID)
        try await Task { try await store.appendEvent(runID: runID, sequence: item.sequence, payload: item.payload) }.value
        hub.published(runID, sequence: item.sequence, payload: item.payload)
    }

    func append(_ message: ConversationMessage, id: String) async throws {
        let (threads, threadID, runID) = (self.threads, self.threadID, self.runID)
        try await Task { try await threads.appendAgentMessage(message, id: id, threadID: threadID, runID: runID) }.value
    }

    func record(usage: TokenUsage) async throws {
        guard usage.promptTokens > 0 || usage.completionTokens > 0 else { return }
        let (store, runID) = (self.store, self.runID)
        try await Task { try await store.addUsage(runID: runID, prompt: usage.promptTokens, completion: usage.completionTokens) }.value
    }
}
