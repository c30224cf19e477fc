import DepotAuth
import DepotDomain
import DepotHTTP
import DepotStore
import Foundation

/// `GET|HEAD /api/v1/objects/download`: decides who may read what, then
/// hands the transfer to nginx with X-Accel-Redirect. The bytes never pass
/// through this process. Every refusal is the same 404, so the route tells
/// nobody which keys exist.
struct DownloadRoutes {
    let context: ServiceContext
    let authenticator: Authenticator

    func register(in table: inout RouteTable) {
        table.open("GET", "/api/v1/objects/download") { request, _ in try download(request) }
        table.open("HEAD", "/api/v1/objects/download") { request, _ in try download(request) }
    }

    func download(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let key = request.query["objectKey"], !key.isEmpty else {
            throw APIError.badRequest("objectKey is required.", code: "missing_parameter")
        }
        let disposition: Disposition = try request.enumParameter("type", default: .attachment)
        guard (try? ObjectKeys.validateKeySyntax(key)) != nil else { throw APIError.notFound }
        let now = context.clock.seconds

        var file = try context.metadata.file(key: key)
        var allowed = false
        var userID: String?
        // (a) Depot's own signed link, still recorded (not revoked, not
        // purged by a rotation of the link secret). The database is asked
        // only once the signature holds, so forged links cost no query.
        if let signature = request.query["signature"], let expires = request.query["expires"].flatMap(Self.canonicalInteger),
           context.links.isValid(objectKey: key, disposition: disposition, expires: expires, signature: signature, now: now) {
            allowed = try context.metadata.isDownloadLinkLive(signatureDigest: DownloadLinkSigner.digest(signature: signature), now: now)
        }
        // (b) the bearer token of the owner, or of a member the file is shared with.
        if !allowed, let identity = authenticator.optionalIdentity(for: request),
           let f = file, f.organizationID == identity.organizationID {
            if f.userID == identity.userID {
                allowed = true
            } else if let shared = try context.metadata.fileShared(key: key, organizationID: identity.organizationID,
                                                                     userID: identity.userID) {
                allowed = true
                file = shared
            }
            if allowed { userID = identity.userID }
        }
        // (c) a workflow key carries 128 random bits: it is a capability.
        if !allowed, ObjectKeys.isWorkflowKey(key), file?.workflowID != nil {
            allowed = true
        }
        if !allowed { file = nil }
        guard let file, let sse = context.config.masterKeys.objectKey(keyID: file.keyID, objectKey: file.objectKey) else {
            throw APIError.notFound
        }

        let method = request.method == "HEAD" ? "HEAD" : "GET"
        let signed = context.store.presign(method: method, key: file.objectKey, expiresIn: 60, sse: sse, extraQuery: [],
                                           now: context.clock.now())
        let inline = disposition == .inline && DownloadHeaders.isInlineSafe(contentType: file.contentType)
        // Content-Disposition travels as a private header: nginx adds it to
        // the store's 200/206/304 only, so an error page (404, 416, 503) never
        // carries the file's name and is never saved as the file.
        var headers: [(String, String)] = [
            ("X-Accel-Redirect", context.config.storeInternalLocation + "object"),
            ("X-Depot-Store-Path", Self.pathAndQuery(of: signed.url)),
            ("Content-Type", file.contentType),
            ("X-Depot-Content-Disposition", DownloadHeaders.contentDisposition(inline ? .inline : .attachment, filename: file.originalFilename)),
        ]
        for (name, value) in sse.headers {
            // nginx copies these into the store request and never shows them.
            headers.append(("X-Depot-" + name.replacingOccurrences(of: "x-amz-server-side-encryption-customer-", with: "SSE-"), value))
        }
        context.metrics.add(.downloadRequests)
        if method == "GET" { context.metrics.add(.downloadFileBytes, file.size) }
        var response = HTTPResponse(status: 200, headers: headers)
        response.logUserID = userID
        return response
    }

    /// A non-negative decimal integer in its one canonical spelling (no sign,
    /// no leading zeros), so a signed link has exactly one valid form.
    static func canonicalInteger(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              text == "0" || text.utf8.first != 0x30 else { return nil }
        return Int64(text)
    }

    static func pathAndQuery(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return String(rest[slash...])
    }
}
