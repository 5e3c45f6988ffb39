/// Where a project's deployments live on the host: `DATA_DIR/deploy/<project_id>/` holding the
/// git repository (`repo.git`), one immutable directory per deployment (`sites/<id>`), and
/// `current`, a link to the one served, switched atomically by rename.
struct DeploymentPaths: Sendable {
    let root: String

    init(dataDir: String) { root = dataDir + "/deploy" }

    func project(_ projectID: String) -> String { root + "/" + projectID }
    func repository(_ projectID: String) -> String { project(projectID) + "/repo.git" }
    func sites(_ projectID: String) -> String { project(projectID) + "/sites" }
    func site(_ projectID: String, _ deploymentID: String) -> String { sites(projectID) + "/" + deploymentID }
    func current(_ projectID: String) -> String { project(projectID) + "/current" }
}
