import Hummingbird

/// `/api/threads`: conversations in a project, and their messages.
struct ThreadsController {
    /// What the routes use.
    struct Services: Sendable {
        let projects: any ProjectLookup
        let threads: any ThreadCatalog
    }

    let services: Services

    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post(use: create)
            .get(use: list)
            .get("{thread_id}/messages", use: messages)
            .post("{thread_id}/messages", use: postMessage)
    }

    struct CreateBody: Decodable { let project_id: String }
    struct MessageBody: Decodable { let content: String }
    struct ThreadList: Encodable, Sendable { let threads: [ChatThread] }
    struct MessageList: Encodable, Sendable { let messages: [ChatMessage] }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ChatThread> {
        let identity = try context.requireIdentity()
        let body = try await request.decodeJSON(as: CreateBody.self, context: context)
        guard let thread = try await services.threads.create(projectID: body.project_id, userID: identity.userID) else {
            throw HostError.notFound("project")
        }
        return JSONResponse(thread, status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ThreadList> {
        let identity = try context.requireIdentity()
        let projectID = request.queryParameters["project_id"]
        if let projectID, try await services.projects.get(id: projectID, userID: identity.userID) == nil {
            throw HostError.notFound("project")
        }
        return JSONResponse(ThreadList(threads: try await services.threads.list(userID: identity.userID, projectID: projectID)))
    }

    @Sendable func messages(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<MessageList> {
        let identity = try context.requireIdentity()
        let threadID = try context.parameters.require("thread_id")
        guard let messages = try await services.threads.messages(threadID: threadID, userID: identity.userID) else {
            throw HostError.notFound("thread")
        }
        return JSONResponse(MessageList(messages: messages))
    }

    @Sendable func postMessage(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ChatMessage> {
        let identity = try context.requireIdentity()
        let threadID = try context.parameters.require("thread_id")
        let body = try await request.decodeJSON(as: MessageBody.self, context: context)
        guard !body.content.isEmpty else { throw HostError(.unprocessable, "field 'content' must not be empty") }
        guard let message = try await services.threads.appendMessage(
            threadID: threadID, userID: identity.userID, role: .user, content: body.content)
        else { throw HostError.notFound("thread") }
        return JSONResponse(message, status: .created)
    }
}
