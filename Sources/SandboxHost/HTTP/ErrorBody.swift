import Foundation
import HTTPTypes
import Hummingbird

/// The contract's error body: `{"detail": "…", "code": "UPPER_SNAKE"}`.
struct ErrorBody: Encodable {
    let detail: String
    let code: String

    /// A JSON response carrying this body.
    static func response(status: HTTPResponse.Status, code: String, detail: String, headers: HTTPFields = [:]) -> Response {
        let data = (try? JSONEncoder().encode(ErrorBody(detail: detail, code: code))) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
