import Deploy

/// What one deployment is asked to do, validated.
struct DeployRequest: Sendable {
    var remote: RemoteURL?
    var branch = "main"
    var message = "Deploy from sandbox-host"
    var buildCommand: String?
    var outputDirectory: String?
    /// Seconds the build may run inside the sandbox.
    var buildTimeout: Double = 600
}
