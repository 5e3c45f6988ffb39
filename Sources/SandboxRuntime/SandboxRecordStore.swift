/// What the runtime needs of the place sandboxes are recorded (the host's database): one row
/// per project's sandbox. Declared here, implemented by the host, so the runtime knows nothing of
/// SQL.
public protocol SandboxRecordStore: Sendable {
    /// The project's sandbox, recorded now (with a free slot and these limits) when it has none.
    /// A project that is not there is an error the host's callers see as a 404.
    func findOrCreateSandbox(projectID: String, image: String, limits: SandboxLimits) async throws -> SandboxRecord
    /// Whether the sandbox's record is still there (a deleted sandbox never starts again).
    func sandboxExists(id: String) async throws -> Bool
    /// Records when the API last used the sandbox (ISO-8601), written when it stops.
    func setSandboxLastActive(id: String, _ lastActiveAt: String) async throws
    /// Removes the sandbox's record (its files are gone).
    func deleteSandbox(id: String) async throws
}
