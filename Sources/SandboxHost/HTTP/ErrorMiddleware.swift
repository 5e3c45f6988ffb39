import FileAPI
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SandboxRuntime

/// Turns every error into the contract's error body, in one place.
///
/// Client errors keep their message; anything else is logged with its cause and answered as a
/// plain 500 that carries no host path, stack trace or secret.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.response(for: error, logger: context.logger)
        }
    }

    static func response(for error: any Error, logger: Logger) -> Response {
        switch error {
        case let error as HostError where error.code == .internalError:
            logger.error("internal error", metadata: ["error": "\(error)"])
            return ErrorBody.response(status: .internalServerError, code: "INTERNAL_ERROR", detail: "internal error")
        case let error as HostError:
            return ErrorBody.response(status: error.code.status, code: error.code.apiCode, detail: error.message, headers: error.headers)
        case let error as FileAPIError:
            return response(for: HostError(error), logger: logger)
        case let error as RuntimeError:
            return response(for: HostError(error), logger: logger)
        case let error as HTTPError:
            return httpErrorResponse(error)
        case let error as DecodingError:
            // Not JSON at all is a malformed request (400); JSON of the wrong shape is 422, as in FastAPI.
            let malformed = if case .dataCorrupted(let context) = error { context.codingPath.isEmpty } else { false }
            return ErrorBody.response(
                status: malformed ? .badRequest : .unprocessableContent, code: "VALIDATION_ERROR", detail: describe(error))
        default:
            logger.error("internal error", metadata: ["error": "\(String(reflecting: error))"])
            return ErrorBody.response(status: .internalServerError, code: "INTERNAL_ERROR", detail: "internal error")
        }
    }

    private static func httpErrorResponse(_ error: HTTPError) -> Response {
        let (code, detail): (String, String) = switch error.status.code {
        case 400: ("VALIDATION_ERROR", error.body ?? "bad request")
        case 401: ("UNAUTHORIZED", error.body ?? "missing or invalid API key")
        case 403: ("FORBIDDEN", error.body ?? "forbidden")
        case 404: ("NOT_FOUND", "not found")
        case 405: ("METHOD_NOT_ALLOWED", error.body ?? "method not allowed")
        case 413: ("PAYLOAD_TOO_LARGE", "request body is larger than this route accepts")
        case 429: ("RATE_LIMITED", "too many requests")
        case 500...: ("INTERNAL_ERROR", "internal error")
        default: ("VALIDATION_ERROR", error.body ?? error.status.reasonPhrase)
        }
        return ErrorBody.response(status: error.status, code: code, detail: detail, headers: error.headers)
    }

    /// A message that names the offending field, as FastAPI's validation errors do.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let joined = codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return joined.isEmpty ? "body" : "'\(joined)'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return "request body must be a JSON object"
        case .typeMismatch(let type, let context):
            return "field \(path(context.codingPath)) must be \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "field \(path(context.codingPath)) must be \(typeName(type)), not null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "request body is not valid JSON" }
            return "field \(path(context.codingPath)) is invalid"
        @unknown default:
            return "invalid request body"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "a boolean"
        case is Double.Type: "a number"
        default: "of the expected type"
        }
    }
}
