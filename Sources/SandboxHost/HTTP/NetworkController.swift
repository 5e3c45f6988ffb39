import Hummingbird
import SandboxRuntime

/// `/api/sandboxes/{sandbox_id}/network`: the sandbox's outbound policy (API.md, "Network").
struct NetworkController {
    /// What the routes use.
    struct Services: Sendable {
        let sandboxes: any SandboxLookup & NetworkPolicyStoring
        let runtime: any NetworkPolicyApplying
    }

    let services: Services

    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("{sandbox_id}/network", use: get)
            .put("{sandbox_id}/network", use: put)
    }

    /// The policy in force: the project's own, or the host default.
    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<NetworkPolicy> {
        let record = try await services.sandboxes.owned(context)
        return JSONResponse(await services.runtime.networkPolicy(for: record))
    }

    /// Validates the whole policy (400/422, nothing changed), persists it, then applies it to the
    /// running sandbox; answers the policy as stored (entries normalised).
    @Sendable func put(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<NetworkPolicy> {
        let identity = try context.requireIdentity()
        let record = try await services.sandboxes.owned(context)
        let policy = try await request.decodeJSON(as: NetworkPolicy.self, context: context)
        let sandboxes = services.sandboxes
        try await services.runtime.updateNetworkPolicy(sandboxID: record.id, policy: policy) {
            guard try await sandboxes.setNetwork(sandboxID: record.id, userID: identity.userID, policy) else {
                throw HostError.notFound("sandbox")
            }
        }
        return JSONResponse(policy)
    }
}
