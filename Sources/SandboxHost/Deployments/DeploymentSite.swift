import FileAPI
import Foundation
import HTTPTypes
import Hummingbird
import NIOPosix

/// Serves a project's current deployment: files by path, `index.html` for a directory and as
/// the fallback for a path that names nothing (single-page apps). Paths are resolved like the
/// file API's, inside the deployment's directory; anything that would leave it is a 404.
struct DeploymentSite: Sendable {
    let paths: DeploymentPaths

    /// The file at `raw` of the project's current site. `sharedOrigin`: served on the API's own
    /// host (`/deployments/…`), so the page gets `UserContentHeaders.sandboxPolicy` and an opaque
    /// origin; a site on its own `{project_id}.apps.localhost` host does not need it.
    func response(projectID: String, path raw: String, sharedOrigin: Bool = true) async throws -> Response {
        guard Identifier.looksValid(projectID) else { throw HostError.notFound("deployment") }
        let current = paths.current(projectID)
        let found = try await NIOThreadPool.singleton.runIfActive { () -> (FileDescriptor, Int64, String)? in
            guard let root = try? WorkspaceRoot(path: current), let path = try? WorkspacePath(raw) else { return nil }
            func open(_ path: WorkspacePath) -> (FileDescriptor, Int64, String)? {
                do {
                    let file = try root.openForReading(path)
                    return (file.fd, file.size, path.name ?? "index.html")
                } catch let error as FileAPIError where error.kind == .invalidRequest {
                    return try? open(WorkspacePath(path.relative + "/index.html"))
                } catch {
                    return nil
                }
            }
            if let file = open(path) { return file }
            // A single-page app's own routes: unknown paths get its index.html.
            guard path.components.last.map({ !$0.contains(".") }) ?? true else { return nil }
            return open(try WorkspacePath("index.html"))
        }
        guard let (file, size, name) = found else { throw HostError.notFound("file") }
        var headers: HTTPFields = [
            .contentType: ContentType.forName(name), .contentLength: String(size), .cacheControl: "no-cache",
            // The type is the file name's, never what a browser would guess from the tenant's bytes.
            .xContentTypeOptions: "nosniff",
        ]
        if sharedOrigin { headers[.contentSecurityPolicy] = UserContentHeaders.sandboxPolicy }
        return Response(status: .ok, headers: headers, body: FileBody.body(file, count: size))
    }
}
