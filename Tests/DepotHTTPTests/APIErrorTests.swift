import DepotHTTP
import Foundation
import Testing

@Suite struct APIErrorTests {
    func body(_ response: HTTPResponse) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
    }

    @Test func responseHasTheContractShape() {
        // An error is {"error":{"code","message","request_id"}} with its status and a JSON content type.
        let response = APIError(413, "quota_exceeded", "The organization's storage quota is exhausted.").response(requestID: "req-1")
        #expect(response.status == 413)
        #expect(response.headers.first { $0.0 == "Content-Type" }?.1 == "application/json")
        #expect(String(decoding: response.body, as: UTF8.self)
            == #"{"error":{"code":"quota_exceeded","message":"The organization's storage quota is exhausted.","request_id":"req-1"}}"#)
    }

    @Test func messageAndRequestIDAreEscaped() {
        // Quotes and newlines in a message or request id cannot break the JSON.
        let response = APIError(400, "bad_request", "name \"x\"\nline").response(requestID: "id\"}")
        let error = body(response)?["error"] as? [String: String]
        #expect(error == ["code": "bad_request", "message": "name \"x\"\nline", "request_id": "id\"}"])
    }

    @Test func unauthorizedAsksForABearerToken() {
        // 401 carries WWW-Authenticate: Bearer.
        let response = APIError.unauthorized.response(requestID: "r")
        #expect(response.status == 401)
        #expect(response.headers.contains { $0.0 == "WWW-Authenticate" && $0.1 == "Bearer" })
        #expect((body(response)?["error"] as? [String: Any])?["code"] as? String == "unauthorized")
    }

    @Test func unavailableCarriesRetryAfter() {
        // 503 carries Retry-After with the given seconds.
        let response = APIError.unavailable("store_unavailable", "The object store is unavailable.", retryAfter: 7).response(requestID: "r")
        #expect(response.status == 503)
        #expect(response.headers.contains { $0.0 == "Retry-After" && $0.1 == "7" })
        #expect(response.headers.first?.0 == "Content-Type")
    }

    @Test func helpersUseTheDocumentedStatusesAndCodes() {
        // Each helper maps to the contract's status and a stable snake_case code.
        let cases: [(APIError, Int, String)] = [
            (.badRequest("m"), 400, "bad_request"), (.badRequest("m", code: "missing_file"), 400, "missing_file"),
            (.forbidden("m"), 403, "forbidden"), (.notFound, 404, "not_found"), (.invalidParameter("m"), 400, "invalid_parameter"),
            (.invalidField("m"), 422, "invalid_parameter"), (.invalidField("m", code: "invalid_category"), 422, "invalid_category"),
            (.internalError, 500, "internal_error"),
        ]
        for (error, status, code) in cases {
            let response = error.response(requestID: "r")
            #expect(response.status == status, "\(code)")
            #expect((body(response)?["error"] as? [String: Any])?["code"] as? String == code)
            #expect(code.allSatisfy { $0.isLowercase || $0 == "_" })
        }
    }

    @Test func internalErrorRevealsNothing() {
        // The 500 body is a fixed sentence with no detail of the failure.
        let text = String(decoding: APIError.internalError.response(requestID: "r").body, as: UTF8.self)
        #expect(text == #"{"error":{"code":"internal_error","message":"The server failed to handle the request; the request id identifies it in the log.","request_id":"r"}}"#)
    }

    @Test func equalityIgnoresHeaders() {
        // Two errors with the same status, code and message are equal.
        #expect(APIError(503, "x", "m", headers: [("Retry-After", "1")]) == APIError(503, "x", "m"))
        #expect(APIError(503, "x", "m") != APIError(503, "y", "m"))
    }
}
