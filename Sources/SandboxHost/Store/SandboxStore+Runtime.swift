import SandboxRuntime

/// The runtime's view of the `sandboxes` table.
extension SandboxStore: SandboxRecordStore {
    public func findOrCreateSandbox(projectID: String, image: String, limits: SandboxLimits) async throws -> SandboxRecord {
        try await findOrCreate(projectID: projectID, image: image, limits: limits)
    }

    public func sandboxExists(id: String) async throws -> Bool { try await exists(id: id) }

    public func setSandboxLastActive(id: String, _ lastActiveAt: String) async throws {
        try await setLastActive(id: id, lastActiveAt)
    }

    public func deleteSandbox(id: String) async throws { try await delete(id: id) }
}
