import DepotHTTP

/// CORS for browser tus clients on the resumable routes. Every answer there
/// carries it, refusals too (401 before any route, 404, 409, 413...): a page
/// that cannot read a refusal sees a network error, and tus clients retry
/// those forever instead of stopping. Answers nginx writes itself after the
/// upload admission get the same origin through `UploadAdmission`.
struct TusCORS {
    static let pathPrefix = "/api/v1/storage/uploads"

    /// Origins (scheme://host[:port]) whose pages may call the routes, compared exactly.
    let allowedOrigins: Set<String>

    /// The headers for `request`: none off the resumable routes, or for an
    /// origin not allowed (the browser then refuses the answer).
    func headers(for request: HTTPRequest) -> [(String, String)] {
        let path = request.rawPath
        guard path == Self.pathPrefix || path.hasPrefix(Self.pathPrefix + "/"),
              let origin = request.headers["origin"], allowedOrigins.contains(origin) else { return [] }
        var headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin"),
                       ("Access-Control-Expose-Headers", TusProtocol.exposedHeaders)]
        if request.method == "OPTIONS", request.headers["access-control-request-method"] != nil {
            headers += [("Access-Control-Allow-Methods", "POST, HEAD, GET, PATCH, DELETE, OPTIONS"),
                        ("Access-Control-Allow-Headers", TusProtocol.allowedRequestHeaders),
                        ("Access-Control-Max-Age", "86400")]
        }
        return headers
    }
}
