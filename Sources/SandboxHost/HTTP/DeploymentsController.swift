import Deploy
import Foundation
import Hummingbird

/// Deployments of a project (`/api/project/{project_id}/deploy…`), and the public site routes
/// (`/deployments/{project_id}/…`) that serve the newest successful one.
struct DeploymentsController {
    /// What the routes use.
    struct Services: Sendable {
        let projects: any ProjectLookup
        let deployer: any Deploying
        let deployments: any DeploymentHistory
        /// Serves the newest successful deployment's files.
        let site: DeploymentSite
        /// The API's port, in the sites' URLs.
        let port: Int
    }

    let services: Services

    /// `/api/project/…`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post("{project_id}/deploy/git", use: deploy)
            .post("{project_id}/deploy/git/update", use: update)
            .get("{project_id}/deployment/status", use: status)
            .get("{project_id}/deployment/live-status", use: liveStatus)
    }

    /// `/deployments/…`, without a key: a deployment is public, like any published site.
    var siteEndpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("{project_id}", use: site)
            .get("{project_id}/**", use: site)
    }

    struct DeployBody: Decodable {
        let remote_url: String?
        let branch: String?
        let message: String?
        let build_command: String?
        let output_dir: String?
    }

    struct UpdateBody: Decodable {
        let message: String?
    }

    /// Absent values are `null`, never left out: clients read every field the contract names.
    struct Deployed: Encodable, Sendable {
        let deployment_id: String
        let status: Deployment.State
        @NullEncoded var url: String?
        @NullEncoded var commit: String?
        @NullEncoded var error: String?
    }

    private func project(_ context: AppRequestContext) async throws -> Project {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("project_id")
        guard let project = try await services.projects.get(id: id, userID: identity.userID) else { throw HostError.notFound("project") }
        return project
    }

    /// The site's own origin (`/deployments/{project_id}/` serves it too, sandboxed on the API's host).
    func url(_ projectID: String) -> String {
        "http://\(projectID).\(AppsHostMiddleware.domain):\(services.port)/"
    }

    private func answer(_ deployment: Deployment) -> JSONResponse<Deployed> {
        JSONResponse(Deployed(
            deployment_id: deployment.id, status: deployment.state,
            url: deployment.state == .deployed ? url(deployment.projectID) : nil, commit: deployment.commit,
            error: deployment.error))
    }

    @Sendable func deploy(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Deployed> {
        let project = try await project(context)
        let body = try await request.decodeJSON(as: DeployBody.self, context: context)
        var deploy = DeployRequest()
        if let remote = body.remote_url, !remote.isEmpty { deploy.remote = try await services.deployer.acceptRemote(remote) }
        if let branch = body.branch {
            guard ProjectRepository.validBranch(branch) else { throw HostError(.unprocessable, "field 'branch' is not a valid branch name") }
            deploy.branch = branch
        }
        if let message = body.message {
            guard !message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, !message.utf8.contains(0), message.utf8.count <= 10_000 else {
                throw HostError(.unprocessable, "field 'message' must be non-empty text")
            }
            deploy.message = message
        }
        if let command = body.build_command, !command.isEmpty {
            guard !command.utf8.contains(0) else { throw HostError(.unprocessable, "field 'build_command' contains a NUL byte") }
            deploy.buildCommand = command
        }
        if let output = body.output_dir, !output.isEmpty { deploy.outputDirectory = output }
        return answer(try await services.deployer.deploy(project, deploy))
    }

    /// A new commit on the newest deployment's branch, with its remote and build.
    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Deployed> {
        let project = try await project(context)
        let body = try await request.decodeJSON(as: UpdateBody.self, context: context)
        guard let last = try await services.deployments.latest(projectID: project.id) else {
            throw HostError(.notFound, "the project has no deployment to update; deploy it first")
        }
        var deploy = DeployRequest()
        // The stored remote passes today's policy (it may predate it, or the operator's list changed).
        if let remote = last.remoteURL { deploy.remote = try await services.deployer.acceptRemote(remote) }
        deploy.branch = last.branch
        deploy.buildCommand = last.buildCommand
        deploy.outputDirectory = last.outputDirectory
        if let message = body.message, !message.isEmpty, !message.utf8.contains(0) { deploy.message = message } else { deploy.message = "Update from sandbox-host" }
        return answer(try await services.deployer.deploy(project, deploy))
    }

    struct Status: Encodable, Sendable {
        let has_deployment: Bool
        @NullEncoded var url: String?
        @NullEncoded var last_deployment_id: String?
        @NullEncoded var commit: String?
        let domains: [String]
    }

    @Sendable func status(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Status> {
        let project = try await project(context)
        let deployed = try await services.deployments.latest(projectID: project.id, state: .deployed)
        return JSONResponse(Status(
            has_deployment: deployed != nil, url: deployed.map { url($0.projectID) }, last_deployment_id: deployed?.id,
            commit: deployed?.commit,
            domains: deployed == nil ? [] : ["\(project.id).apps.localhost:\(services.port)"]))
    }

    struct LiveStatus: Encodable, Sendable {
        let state: String
        @NullEncoded var deployment_id: String?
        @NullEncoded var url: String?
        @NullEncoded var created_at: String?
        @NullEncoded var ready_at: String?
        @NullEncoded var error: String?
    }

    @Sendable func liveStatus(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<LiveStatus> {
        let project = try await project(context)
        guard let last = try await services.deployments.latest(projectID: project.id) else {
            return JSONResponse(LiveStatus(state: "none", deployment_id: nil, url: nil, created_at: nil, ready_at: nil, error: nil))
        }
        return JSONResponse(LiveStatus(
            state: last.state.rawValue, deployment_id: last.id, url: last.state == .deployed ? url(project.id) : nil,
            created_at: last.createdAt, ready_at: last.readyAt, error: last.error))
    }

    @Sendable func site(_ request: Request, context: AppRequestContext) async throws -> Response {
        let projectID = try context.parameters.require("project_id")
        let rest = context.parameters.getCatchAll().joined(separator: "/")
        return try await services.site.response(projectID: projectID, path: rest)
    }
}
