import Hummingbird
import NIOCore

/// The request context of every route: who is calling, and the body limit in force.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` for every route that needs a key.
    public var identity: Authenticator.Identity?
    /// Largest request body a JSON route reads; set from the configuration by `BodyLimitMiddleware`.
    public var maxBodyBytes: Int = 1 << 20
    /// The event loop of the client's connection (a preview's upstream connection is put on it,
    /// so relaying never hops threads).
    public let eventLoop: any EventLoop

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.eventLoop = source.channel.eventLoop
    }

    public var maxUploadSize: Int { maxBodyBytes }

    /// The authenticated caller; throws 401 if a route forgot to sit behind `AuthMiddleware`.
    public func requireIdentity() throws -> Authenticator.Identity {
        guard let identity else { throw HostError(.unauthorized, "missing API key") }
        return identity
    }
}
