import AgentLoop
import CSandbox
import FileAPI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The command a developer would use to start this project's dev server.
///
/// Bounded whatever the workspace holds: it asks for the few names it knows (never lists the
/// top directory, which may hold millions of entries) and reads at most `maxManifestBytes` of
/// `package.json` (a file the sandbox can grow while we read it).
enum DevServerCommand {
    static let maxManifestBytes = 1 << 20

    static func detect(in root: WorkspaceRoot, port: Int?) -> String? {
        if let data = manifest(in: root), let scripts = JSONValue.parse(data)?["scripts"]?.objectValue {
            let install = exists("node_modules", in: root) ? "" : "npm install && "
            for script in ["dev", "start"] where scripts[script] != nil { return install + "npm run \(script)" }
        }
        let port = port ?? 8000
        if exists("manage.py", in: root) { return "python3 manage.py runserver 0.0.0.0:\(port)" }
        if exists("app.py", in: root) { return "python3 app.py" }
        if exists("index.html", in: root) { return "python3 -m http.server \(port)" }
        return nil
    }

    /// `package.json`'s bytes, or nil when it is missing, not a regular file, or over the cap.
    private static func manifest(in root: WorkspaceRoot) -> Data? {
        guard let (file, size, _) = try? root.openForReading(try WorkspacePath("package.json")),
              size < maxManifestBytes else { return nil }
        var bytes = [UInt8](repeating: 0, count: maxManifestBytes)
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(file.raw, $0.baseAddress! + total, $0.count - total) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            total += count
        }
        return total < maxManifestBytes ? Data(bytes[0..<total]) : nil
    }

    private static func exists(_ name: String, in root: WorkspaceRoot) -> Bool {
        guard let path = try? WorkspacePath(name), let fd = try? root.open(path, flags: CSB_O_PATH | O_CLOEXEC) else { return false }
        close(fd)
        return true
    }
}
