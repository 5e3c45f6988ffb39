import Deploy

/// Deploys projects: one at a time per project, to a site and optionally a git remote.
protocol Deploying: Sendable {
    func deploy(_ project: Project, _ request: DeployRequest) async throws -> Deployment
    /// The remote if the policy allows it (4xx otherwise), with its addresses checked.
    func acceptRemote(_ raw: String) async throws -> RemoteURL
}

extension DeployService: Deploying {}
