/// One agent run on a thread, as `GET /api/agent-run/{id}` answers it.
public struct AgentRun: Sendable, Equatable, Encodable {
    public enum Status: String, Sendable, Encodable {
        case running, completed, failed, stopped
        var isFinal: Bool { self != .running }
    }

    public struct Usage: Sendable, Equatable, Encodable {
        public var prompt_tokens: Int
        public var completion_tokens: Int
    }

    public let id: String
    public let threadID: String
    public var status: Status
    public let model: String
    public let maxSteps: Int
    public let startedAt: String
    @NullEncoded public var completedAt: String?
    @NullEncoded public var error: String?
    public var usage: Usage

    enum CodingKeys: String, CodingKey {
        case id, threadID = "thread_id", status, model, maxSteps = "max_steps", startedAt = "started_at"
        case completedAt = "completed_at", error, usage
    }
}
