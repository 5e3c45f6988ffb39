import FileAPI
import Foundation
import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Opens the data directory: creates it (mode 0700), opens the database, and on first start
/// creates the `admin` user and its key.
public enum DataDirectory {
    /// What opening found or made.
    public struct Opened: Sendable {
        public let database: Database
        /// The admin key, when this start created it; it is shown once and never again.
        public let newAdminKey: String?
    }

    public static func open(_ configuration: HostConfiguration) throws -> Opened {
        try FileManager.default.createDirectory(
            atPath: configuration.dataDir, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: configuration.workspacesPath, withIntermediateDirectories: true)
        // What a killed host was extracting: never acknowledged, so it goes. Extraction trees are
        // the tenant's content: removed by descriptor, never following a link.
        _ = try? TreeRemover().remove(path: configuration.stagingPath)
        try FileManager.default.createDirectory(
            atPath: configuration.stagingPath, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let database = try Database(path: configuration.databasePath)
        let newAdminKey = try database.runBlocking { connection in
            try connection.transaction { () -> String? in
                guard try UserStore.userCount(in: connection) == 0 else { return nil }
                let admin = try UserStore.createUser(named: "admin", in: connection)
                let key = try UserStore.createKey(for: admin, in: connection).key
                // Written before the commit: a key the database knows is never lost.
                try writeSecret(key + "\n", to: configuration.adminKeyPath)
                return key
            }
        }
        let projectIDs = try database.runBlocking { connection in
            Set(try connection.query("SELECT id FROM projects").map { try $0.text("id") })
        }
        _ = try WorkspaceStore(root: configuration.workspacesPath).removeOrphans(keeping: projectIDs)
        return Opened(database: database, newAdminKey: newAdminKey)
    }

    /// Writes `contents` to a new file readable by its owner only (mode 0600), replacing an old one.
    static func writeSecret(_ contents: String, to path: String) throws {
        unlink(path)
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HostError.internalError("cannot write \(path)", cause: POSIXError(errnoCode: errno)) }
        defer { close(fd) }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw HostError.internalError("cannot write \(path)", cause: POSIXError(errnoCode: errno))
        }
    }
}

extension POSIXError {
    init(errnoCode: Int32) {
        self.init(POSIXErrorCode(rawValue: errnoCode) ?? .EIO)
    }
}
