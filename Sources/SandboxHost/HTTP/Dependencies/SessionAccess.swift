import SandboxRuntime

/// A sandbox's sessions: opened (which reads their files: call off the cooperative pool), and killed.
protocol SessionAccess: Sendable {
    func listSessions(_ sandboxID: String) throws -> [Session]
    /// The session `name`, made when missing and `create`; nil when missing otherwise.
    func session(_ sandboxID: String, named name: String, create: Bool) throws -> Session?
    /// Kills every command running in the session; false when none ran.
    func killSession(_ record: SandboxRecord, named name: String) async throws -> Bool
}

extension SandboxRuntime: SessionAccess {}
