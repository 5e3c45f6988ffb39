/// The caller's conversations and their messages. Each answers nil where the project or thread
/// is not the caller's.
protocol ThreadCatalog: Sendable {
    func create(projectID: String, userID: String) async throws -> ChatThread?
    func list(userID: String, projectID: String?) async throws -> [ChatThread]
    func get(id: String, userID: String) async throws -> ChatThread?
    func messages(threadID: String, userID: String) async throws -> [ChatMessage]?
    func appendMessage(threadID: String, userID: String, role: ChatMessage.Role, content: String) async throws -> ChatMessage?
}

extension ThreadStore: ThreadCatalog {}
