import DepotAuth
import DepotCrypto
import DepotEncoding
import DepotDomain
import DepotHTTP

/// `POST /api/v1/storage/upload`: scan the multipart body once (fields,
/// limits, hash), judge the form, then store the file through `FileIngest`.
struct UploadRoutes {
    let context: ServiceContext
    let ingest: FileIngest

    func register(in table: inout RouteTable) {
        table.authenticated("POST", "/api/v1/storage/upload") { request, _, identity in try upload(request, identity) }
    }

    func upload(_ request: HTTPRequest, _ identity: Identity) throws -> HTTPResponse {
        guard let contentType = request.headers["Content-Type"] else {
            throw APIError.badRequest("The body must be multipart/form-data.", code: "malformed_multipart")
        }
        let boundary: String
        do { boundary = try multipartBoundary(fromContentType: contentType) } catch {
            throw APIError.badRequest("The body must be multipart/form-data with a boundary.", code: "malformed_multipart")
        }
        guard let account = try context.metadata.account(organizationID: identity.organizationID) else { throw APIError.notFound }
        let body = try openBody(request)
        defer { body.close() }

        let hasher = DigestHasher(.sha256)
        let form: MultipartForm
        do {
            form = try scanMultipartForm(descriptor: body.descriptor, length: body.length, boundary: boundary) { hasher.update($0) }
        } catch let e as MultipartError {
            throw APIError.badRequest("The multipart body is malformed: \(e.description).", code: "malformed_multipart")
        } catch is MultipartReadError {
            throw APIError.badRequest("The request body could not be read completely.", code: "malformed_multipart")
        }
        let sha256 = Hex.encode(hasher.finalize())
        let file = try UploadForm.incomingFile(form, plan: account.plan, identity: identity, now: context.clock.now())
        let offset = form.file?.offset ?? 0
        let record = try ingest.store(file, sha256: sha256, descriptor: body.descriptor, offset: offset, identity: identity,
                                      requestID: request.requestID)
        // Location names the new file's record; a workflow file has no route
        // of its own (its key is not under the caller's folder).
        let location: [(String, String)] = file.workflow == nil ? [("Location", "/api/v1/storage/objects/\(file.objectName)/metadata")] : []
        return .json(201, Views.file(record), headers: location)
    }

    private func openBody(_ request: HTTPRequest) throws -> RequestBodyFile {
        do {
            return try RequestBodyFile(request.body, scratchDirectory: context.config.bodyTempDirectory)
        } catch RequestBodyFile.Failure.missing {
            throw APIError.badRequest("The request has no body.", code: "malformed_multipart")
        } catch RequestBodyFile.Failure.unreadable {
            throw APIError.badRequest("The request body could not be read.", code: "malformed_multipart")
        } catch {
            throw APIError.unavailable("server_busy", "The server cannot take the request body right now.")
        }
    }
}
