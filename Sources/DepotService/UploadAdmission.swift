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
    /// A refusal's CORS headers (`TusCORS`), for nginx to add to the error it writes.
    static let corsOriginHeader = "X-Depot-CORS-Origin"
    static let corsExposeHeader = "X-Depot-CORS-Expose"

    /// nginx's answer: 204 to go on, else the refusal; `cors` are the CORS
    /// headers the request would get from the route itself.
    static func answer(_ refusal: APIError?, cors: [(String, String)] = []) -> HTTPResponse {
        guard let refusal else { return HTTPResponse(status: 204) }
        var headers = [(statusHeader, String(refusal.status)), (codeHeader, refusal.code), (messageHeader, jsonSafe(refusal.message))]
        for (name, value) in cors {
            if name == "Access-Control-Allow-Origin" { headers.append((corsOriginHeader, value)) }
            if name == "Access-Control-Expose-Headers" { headers.append((corsExposeHeader, value)) }
        }
        return HTTPResponse(status: 403, headers: headers)
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
