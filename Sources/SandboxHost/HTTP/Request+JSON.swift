import Foundation
import Hummingbird

extension Request {
    /// Reads the body (at most `context.maxBodyBytes`, else 413) and decodes it as JSON.
    ///
    /// An empty body decodes as `{}`, so a route whose fields are all optional accepts none.
    func decodeJSON<T: Decodable>(as type: T.Type, context: AppRequestContext) async throws -> T {
        if let length = headers[.contentLength].flatMap(Int.init), length > context.maxBodyBytes {
            throw HostError(.payloadTooLarge, "request body is \(length) bytes; the limit is \(context.maxBodyBytes)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await self.body.collect(upTo: context.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw HostError(.payloadTooLarge, "request body is larger than the limit of \(context.maxBodyBytes) bytes")
        }
        let data = buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer: buffer)
        return try JSONDecoder().decode(T.self, from: data)
    }
}

extension Data {
    init(buffer: ByteBuffer) {
        self = buffer.withUnsafeReadableBytes { Data($0) }
    }
}
