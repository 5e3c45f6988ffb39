/// Where a project's deployments live on the host: `DATA_DIR/deploy/<project_id>/` holding the
/// git repository (`repo.git`), one immutable directory per deployment (`sites/<id>`), and
/// `current`, a link to the one served, switched atomically by rename.
struct DeploymentPaths: Sendable {
    let root: String
    /// The host's private staging directory (`DATA_DIR/staging`, mode 0700, emptied at start):
    /// a deployment's snapshot of the workspace is copied there, committed and removed.
    let stagingRoot: String

    init(dataDir: String) {
        root = dataDir + "/deploy"
        stagingRoot = dataDir + "/staging"
    }

    func project(_ projectID: String) -> String { root + "/" + projectID }
    func repository(_ projectID: String) -> String { project(projectID) + "/repo.git" }
    func sites(_ projectID: String) -> String { project(projectID) + "/sites" }
    func site(_ projectID: String, _ deploymentID: String) -> String { sites(projectID) + "/" + deploymentID }
    func staging(_ deploymentID: String) -> String { stagingRoot + "/deploy-" + deploymentID }
    func current(_ projectID: String) -> String { project(projectID) + "/current" }
}
