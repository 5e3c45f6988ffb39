import HTTPTypes
import Hummingbird

extension HostError.Code {
    /// The HTTP status a client receives for this code.
    var status: HTTPResponse.Status {
        switch self {
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .validation: .badRequest
        case .unprocessable: .unprocessableContent
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .sandboxUnavailable: .serviceUnavailable
        case .gatewayTimeout: .gatewayTimeout
        case .insufficientStorage: .init(code: 507, reasonPhrase: "Insufficient Storage")
        default: .internalServerError
        }
    }
}

extension HostError {
    /// The response headers the error's typed fields call for.
    var headers: HTTPFields {
        var headers = HTTPFields()
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        if bearerChallenge { headers[.wwwAuthenticate] = "Bearer" }
        return headers
    }
}
