import FileAPI
import Foundation

/// Sandbox images: `default` (the host's `/usr` under a curated skeleton, built on first use)
/// and full root filesystems imported by the administrator into `DATA_DIR/images/<name>/rootfs`.
public struct ImageStore: Sendable {
    public static let defaultName = "default"
    public let root: String

    public struct Info: Sendable, Codable, Equatable {
        public let name: String
        public let source: String
        public let created_at: String
    }

    public init(root: String) { self.root = root }

    public func rootfs(_ name: String) -> String { root + "/" + name + "/rootfs" }

    /// Whether a project may name this image.
    public func exists(_ name: String) -> Bool {
        name == Self.defaultName || (Self.validName(name) && FileManager.default.fileExists(atPath: root + "/" + name + "/image.json"))
    }

    public func list() -> [Info] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let imported = names.filter { $0 != Self.defaultName }.compactMap { name -> Info? in
            guard let data = FileManager.default.contents(atPath: root + "/" + name + "/image.json") else { return nil }
            return try? JSONDecoder().decode(Info.self, from: data)
        }
        return [Info(name: Self.defaultName, source: "host /usr (built in)", created_at: "")] + imported.sorted { $0.name < $1.name }
    }

    static func validName(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter || first.isNumber, name.utf8.count <= 64 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    /// Imports a root filesystem from a directory (copied with owners, modes and links) or a
    /// tar/tar.gz file (unpacked through libarchive). It must hold `/bin/sh`; the mount points a
    /// sandbox needs are added. Replaces nothing: the name must be new.
    @discardableResult
    public func importImage(named name: String, from source: String) throws -> Info {
        guard Self.validName(name), name != Self.defaultName else {
            throw RuntimeError(.unprocessable, "image names are lowercase letters, digits, '-', '_' and '.', and not 'default'")
        }
        guard !exists(name) else { throw RuntimeError(.conflict, "an image named '\(name)' exists") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw RuntimeError(.notFound, "\(source) does not exist")
        }
        let staging = root + "/.import-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging + "/rootfs", withIntermediateDirectories: true)
        do {
            if isDirectory.boolValue {
                try Self.copyTree(source, to: staging + "/rootfs")
            } else {
                let previous = FileManager.default.currentDirectoryPath
                defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
                try RootfsArchive.extract(source, into: staging + "/rootfs")
            }
            let rootfs = staging + "/rootfs"
            guard FileManager.default.fileExists(atPath: rootfs + "/bin/sh") || FileManager.default.destinationOfSymbolicLinkSafe(rootfs + "/bin/sh") != nil else {
                throw RuntimeError(.unprocessable, "the image has no /bin/sh")
            }
            for (path, mode) in [("workspace", 0o755), ("tmp", 0o1777), ("proc", 0o555), ("dev", 0o755), ("sys", 0o555), ("root", 0o700)] {
                let full = rootfs + "/" + path
                if !FileManager.default.fileExists(atPath: full) {
                    try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
                }
            }
            let info = Info(name: name, source: source, created_at: Timestamp.iso8601())
            try JSONEncoder().encode(info).write(to: URL(fileURLWithPath: staging + "/image.json"))
            try FileManager.default.moveItem(atPath: staging, toPath: root + "/" + name)
            return info
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// `cp -a`: owners, modes, times, links, devices, as they are.
    static func copyTree(_ source: String, to target: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cp")
        process.arguments = ["-a", "--", source + "/.", target]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw RuntimeError.internalError("copying \(source) failed (cp exited \(process.terminationStatus))")
        }
    }
}

extension FileManager {
    func destinationOfSymbolicLinkSafe(_ path: String) -> String? {
        try? destinationOfSymbolicLink(atPath: path)
    }
}
