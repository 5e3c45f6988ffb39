import AgentLoop
import FileAPI
import Foundation

/// The command a developer would use to start this project's dev server.
enum DevServerCommand {
    static func detect(in root: WorkspaceRoot, port: Int?) -> String? {
        let names = Set((try? root.list(try WorkspacePath(""))).map { $0.map(\.name) } ?? [])
        if names.contains("package.json"),
           let (file, size, _) = try? root.openForReading(try WorkspacePath("package.json")), size < 1 << 20,
           let data = try? FileHandle(fileDescriptor: file.raw, closeOnDealloc: false).readToEnd(),
           let scripts = JSONValue.parse(data)?["scripts"]?.objectValue {
            let install = names.contains("node_modules") ? "" : "npm install && "
            for script in ["dev", "start"] where scripts[script] != nil { return install + "npm run \(script)" }
        }
        let port = port ?? 8000
        if names.contains("manage.py") { return "python3 manage.py runserver 0.0.0.0:\(port)" }
        if names.contains("app.py") { return "python3 app.py" }
        if names.contains("index.html") { return "python3 -m http.server \(port)" }
        return nil
    }
}
