import Foundation

/// An error a client may see: status, stable snake_case code and a human
/// sentence. Anything else thrown by a handler becomes a 500 whose details
/// go to the log only.
public struct APIError: Error, Equatable {
    public let status: Int
    public let code: String
    public let message: String
    public var headers: [(String, String)] = []

    public init(_ status: Int, _ code: String, _ message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func == (a: APIError, b: APIError) -> Bool {
        a.status == b.status && a.code == b.code && a.message == b.message
    }

    public func response(requestID: String) -> HTTPResponse {
        let body: JSONValue = ["error": ["code": .string(code), "message": .string(message), "request_id": .string(requestID)]]
        return .json(status, body, headers: headers)
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError { APIError(400, code, message) }
    public static let unauthorized = APIError(401, "unauthorized", "A valid bearer token is required.",
                                              headers: [("WWW-Authenticate", "Bearer")])
    public static func forbidden(_ message: String) -> APIError { APIError(403, "forbidden", message) }
    public static let notFound = APIError(404, "not_found", "The requested resource does not exist.")
    /// A query parameter out of its range or set (400).
    public static func invalidParameter(_ message: String) -> APIError { APIError(400, "invalid_parameter", message) }
    /// A well-formed body field with an unacceptable value (422).
    public static func invalidField(_ message: String, code: String = "invalid_parameter") -> APIError { APIError(422, code, message) }
    public static func unavailable(_ code: String, _ message: String, retryAfter: Int = 5) -> APIError {
        APIError(503, code, message, headers: [("Retry-After", String(retryAfter))])
    }
    public static let internalError = APIError(500, "internal_error", "The server failed to handle the request; the request id identifies it in the log.")
}
