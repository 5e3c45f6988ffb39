/// A project's deployments, newest first.
protocol DeploymentHistory: Sendable {
    /// The latest deployment of the project, or the latest in `state`.
    func latest(projectID: String, state: Deployment.State?) async throws -> Deployment?
}

extension DeploymentHistory {
    func latest(projectID: String) async throws -> Deployment? { try await latest(projectID: projectID, state: nil) }
}

extension DeploymentStore: DeploymentHistory {}
