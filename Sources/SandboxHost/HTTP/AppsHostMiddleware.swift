import HTTPTypes
import Hummingbird

/// `{project_id}.apps.localhost:PORT`: a request whose Host names a project's site is served
/// from its deployment, before any route or key check (a site is public).
struct AppsHostMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let site: DeploymentSite

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let candidates = [request.head.authority, request.headers[Self.hostField]].compactMap { $0 }
        guard let projectID = candidates.lazy.compactMap(Self.projectID(host:)).first else { return try await next(request, context) }
        return try await site.response(projectID: projectID, path: String(request.uri.path.dropFirst()), sharedOrigin: false)
    }

    /// `Host` as a plain field (HTTP/1 servers turn it into `authority`; some paths keep it as is).
    static let hostField = HTTPField.Name("Host")!

    /// Sites are `{project_id}.<domain>`; `*.localhost` resolves to the loopback in browsers.
    static let domain = "apps.localhost"

    /// The project id of `<id>.apps.localhost[:port]`, else nil.
    static func projectID(host: String) -> String? {
        let name = host.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        guard name.hasSuffix("." + domain) else { return nil }
        let label = String(name.dropLast(domain.count + 1))
        return Identifier.looksValid(label) ? label : nil
    }
}
