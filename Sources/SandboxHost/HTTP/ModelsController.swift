import Hummingbird

/// `/api/models/available`: the models the configured provider offers, the default first.
struct ModelsController {
    /// The configured model provider (fixed at start).
    let provider: AgentService.Provider

    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("available", use: available)
    }

    struct Model: Encodable, Sendable {
        let id: String
        let provider: String
        let `default`: Bool
    }

    struct ModelList: Encodable, Sendable { let models: [Model] }

    @Sendable func available(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ModelList> {
        _ = try context.requireIdentity()
        guard let configuration = provider.configuration else { return JSONResponse(ModelList(models: [])) }
        return JSONResponse(ModelList(models: configuration.models.enumerated().map {
            Model(id: $0.element, provider: configuration.kind.rawValue, default: $0.offset == 0)
        }))
    }
}
