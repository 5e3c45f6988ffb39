import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The HTTP exchange both providers share: POST JSON, map a failed status to an
/// `AgentLoopError`, hand the streamed body's server-sent events to the caller.
struct ProviderHTTP: Sendable {
    let client: HTTPClient
    /// How long to wait for the response head (a model may think before its first byte).
    var headTimeout: TimeAmount = .seconds(300)
    /// A stream longer than this is refused: no provider sends 256 MiB for one reply.
    var maxStreamBytes = 256 << 20

    func streamEvents(
        url: String, headers: [(String, String)], body: JSONValue,
        onEvent: (EventStreamParser.Event) async throws -> Void
    ) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body.jsonText))

        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: headTimeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AgentLoopError(.transport, "cannot reach the model provider at \(Self.redacted(url))", cause: error)
        }
        guard response.status == .ok else {
            let text = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            throw Self.failure(status: response.status, body: text, retryAfter: response.headers.first(name: "retry-after"))
        }
        var parser = EventStreamParser()
        do {
            for try await buffer in response.body {
                for event in parser.feed(buffer.readableBytesView) { try await onEvent(event) }
                if parser.total > maxStreamBytes {
                    throw AgentLoopError(.protocolViolation, "the provider's stream exceeded \(maxStreamBytes >> 20) MiB")
                }
            }
        } catch let error as AgentLoopError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw AgentLoopError(.transport, "the model provider's stream was cut", cause: error)
        }
        if let last = parser.finish() { try await onEvent(last) }
    }

    /// The provider's own reason when it gives one (`{"error":{"message":…}}`), cut short.
    static func failure(status: HTTPResponseStatus, body: String, retryAfter: String?) -> AgentLoopError {
        var reason = JSONValue.parse(body).flatMap { $0["error"]?["message"]?.stringValue ?? $0["error"]?.stringValue ?? $0["message"]?.stringValue }
            ?? body.trimmingCharacters(in: .whitespacesAndNewlines)
        if reason.count > 300 { reason = String(reason.prefix(300)) + "…" }
        let detail = "model provider answered \(status.code)" + (reason.isEmpty ? "" : ": \(reason)")
        switch status.code {
        case 401, 403: return AgentLoopError(.unauthorized, detail + " (check SANDBOX_HOST_LLM_API_KEY)")
        case 429: return AgentLoopError(.rateLimited, detail, cause: RetryAfter(seconds: retryAfter.flatMap(Double.init)))
        case 500...599: return AgentLoopError(.providerUnavailable, detail)
        default: return AgentLoopError(.badRequest, detail)
        }
    }

    /// A URL with any `user:password@` removed, for messages.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@"),
              !url[scheme.upperBound..<at].contains("/") else { return url }
        return String(url[..<scheme.upperBound]) + "***@" + url[url.index(after: at)...]
    }

    static func decode(_ data: String) throws -> JSONValue {
        guard let value = JSONValue.parse(data) else {
            throw AgentLoopError(.protocolViolation, "the model provider sent an event that is not JSON")
        }
        return value
    }
}

/// A provider's `Retry-After`, carried as the cause of a rate-limit error.
struct RetryAfter: Error {
    let seconds: Double?
}
