import Hummingbird
import SandboxRuntime

/// `/api/projects`: create, list, get and delete the caller's projects.
struct ProjectsController {
    /// What the routes use.
    struct Services: Sendable {
        let projects: any ProjectCatalog
        let images: any ImageCatalog
        let workspaces: any WorkspaceProvisioning
        /// A delete stops and removes the project's sandbox, and removes its deployments.
        let sandboxes: any SandboxLookup
        let runtime: any SandboxRemoving
        let deploymentPaths: DeploymentPaths
    }

    let services: Services

    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post(use: create)
            .get(use: list)
            .get("{project_id}", use: get)
            .delete("{project_id}", use: delete)
    }

    struct CreateBody: Decodable {
        let name: String
        let description: String?
        let image: String?
        /// Validated as it decodes (400/422), before anything is created; nil: the host default.
        let network: NetworkPolicy?
    }

    struct ProjectList: Encodable, Sendable { let projects: [Project] }

    struct Deleted: Encodable, Sendable {
        let status: String
        let deleted: Bool
        let project_id: String
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Project> {
        let identity = try context.requireIdentity()
        let body = try await request.decodeJSON(as: CreateBody.self, context: context)
        let name = try Validation.text(body.name, field: "name", maxLength: 200)
        let description = try body.description.map { try Validation.text($0, field: "description", maxLength: 10_000, allowEmpty: true, allowNewlines: true) }
        let image = body.image ?? "default"
        guard services.images.exists(image) else {
            let available = services.images.list().map(\.name).joined(separator: ", ")
            throw HostError(.unprocessable, "unknown image '\(image.prefix(64))'; available: \(available)")
        }
        let project = try await services.projects.create(
            userID: identity.userID, name: name, description: description, image: image, network: body.network)
        do {
            try await services.workspaces.create(projectID: project.id)
        } catch {
            _ = try? await services.projects.delete(id: project.id, userID: identity.userID)
            throw HostError.internalError("cannot create the project's workspace", cause: error)
        }
        return JSONResponse(project, status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ProjectList> {
        let identity = try context.requireIdentity()
        return JSONResponse(ProjectList(projects: try await services.projects.list(userID: identity.userID)))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Project> {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("project_id")
        guard let project = try await services.projects.get(id: id, userID: identity.userID) else {
            throw HostError.notFound("project")
        }
        return JSONResponse(project)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Deleted> {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("project_id")
        guard try await services.projects.get(id: id, userID: identity.userID) != nil else {
            throw HostError.notFound("project")
        }
        let services = self.services
        let userID = identity.userID
        // Closed for the whole delete, so `ensure-active` cannot start a sandbox on the files
        // being removed; two deletes of one project run one after the other, and the second
        // finds the row gone (404) instead of removing the same files at once (a 500).
        let deleted = try await services.runtime.whileClosed(project: id) {
            if let sandbox = try await services.sandboxes.forProject(id) {
                try await services.runtime.delete(sandbox)
            }
            guard try await services.projects.delete(id: id, userID: userID) else { return false }
            try await services.workspaces.remove(projectID: id)
            try await services.workspaces.removeTree(services.deploymentPaths.project(id))
            return true
        }
        guard deleted else { throw HostError.notFound("project") }
        return JSONResponse(Deleted(status: "success", deleted: true, project_id: id))
    }
}
