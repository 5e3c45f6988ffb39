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
    public var completedAt: String?
    public var error: String?
    public var usage: Usage

    enum CodingKeys: String, CodingKey {
        case id, threadID = "thread_id", status, model, maxSteps = "max_steps", startedAt = "started_at"
        case completedAt = "completed_at", error, usage
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(threadID, forKey: .threadID)
        try container.encode(status, forKey: .status)
        try container.encode(model, forKey: .model)
        try container.encode(maxSteps, forKey: .maxSteps)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(completedAt, forKey: .completedAt)
        try container.encode(error, forKey: .error)
        try container.encode(usage, forKey: .usage)
    }
}
