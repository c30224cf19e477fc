import DepotHTTP

/// The answer to nginx's `auth_request` for an upload, asked before nginx
/// reads a byte of the body (CONTENT_LENGTH and the token are all the worker
/// gets). auth_request passes on only 2xx, 401 and 403: a refusal therefore
/// goes back as 403 carrying the real status, code and message in headers,
/// which the upload location turns into the client's JSON error (and sends
/// instead of `100 Continue` to a client that asked for it).
enum UploadAdmission {
    static let statusHeader = "X-Depot-Refusal-Status"
    static let codeHeader = "X-Depot-Refusal-Code"
    static let messageHeader = "X-Depot-Refusal-Message"

    static func answer(_ refusal: APIError?) -> HTTPResponse {
        guard let refusal else { return HTTPResponse(status: 204) }
        return HTTPResponse(status: 403, headers: [
            (statusHeader, String(refusal.status)), (codeHeader, refusal.code), (messageHeader, jsonSafe(refusal.message)),
        ])
    }

    /// nginx pastes the message into a JSON string: keep it printable ASCII without quotes or backslashes.
    static func jsonSafe(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.value < 0x20 || $0.value > 0x7e || $0 == "\"" || $0 == "\\" ? " " : $0
        }))
    }
}

extension HTTPRequest {
    /// nginx's admission subrequest for an upload (`depot-server.conf`): the
    /// header is set by nginx itself, which passes no client header through.
    var isUploadAdmission: Bool { headers["x-depot-upload-admission"] == "1" }
}
