/// One deployment of a project: a commit of its workspace, pushed and built, then served.
public struct Deployment: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        case preparing, pushing, building, deployed, failed
    }

    public let id: String
    public let projectID: String
    public var state: State
    public let branch: String
    /// With its credentials: used to push, never shown (see `RemoteURL.redacted`).
    public let remoteURL: String?
    public let buildCommand: String?
    public let outputDirectory: String?
    public let message: String
    public var commit: String?
    public var error: String?
    public let createdAt: String
    public var readyAt: String?
}
