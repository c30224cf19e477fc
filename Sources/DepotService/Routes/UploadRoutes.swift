import DepotAuth
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata

/// `POST /api/v1/storage/upload`: the multipart body is read once, as it
/// arrives, and the file part's bytes go on to `FileIngest` (hashed and sent
/// to the store as they pass); the form is judged as soon as it can be.
struct UploadRoutes {
    let context: ServiceContext
    let cleanup: StoreCleanup

    /// The form's parts around the file (boundaries, part headers, other
    /// fields) may add this much to the file's size in `Content-Length`.
    static let formAllowance: Int64 = 1 << 20

    func register(in table: inout RouteTable) {
        table.uploadLinkOrAuthenticated("POST", "/api/v1/storage/upload") { request, _, identity, link in
            try upload(request, identity, link: link)
        }
    }

    /// `link`: the signed upload link the request came with (no token): its
    /// size and category bind, and it is spent by the upload that stores a file.
    func upload(_ request: HTTPRequest, _ identity: Identity, link: UploadLink? = nil) throws -> HTTPResponse {
        guard let contentType = request.headers["Content-Type"] else {
            throw APIError.badRequest("The body must be multipart/form-data.", code: "malformed_multipart")
        }
        let boundary: String
        do { boundary = try multipartBoundary(fromContentType: contentType) } catch {
            throw APIError.badRequest("The body must be multipart/form-data with a boundary.", code: "malformed_multipart")
        }
        guard var account = try context.metadata.account(organizationID: identity.organizationID) else { throw APIError.notFound }
        if let link { account.plan.maxFileSizeBytes = min(account.plan.maxFileSizeBytes, link.maxSize) }
        if request.isUploadAdmission {
            // nginx asks before reading the body: judge the headers only.
            try admit(request.headers["Content-Length"].flatMap { Int64($0) }, account)
            return HTTPResponse(status: 204)
        }
        let body = try openBody(request)
        try admit(body.declaredLength, account)
        // One upload per link: taken now, given back if nothing is stored.
        var linkSpent = false
        if let link {
            guard try context.metadata.claimUploadLink(id: link.id, now: context.clock.seconds) else {
                throw APIError(401, "unauthorized", "The upload link is invalid, used, revoked or expired.",
                               headers: [("WWW-Authenticate", "Bearer")])
            }
        }
        defer { if let link, !linkSpent { try? context.metadata.releaseUploadLink(id: link.id) } }
        /// The form's fields with the link's category in force.
        func bound(_ fields: [String: String]) throws -> [String: String] {
            guard let category = link?.category else { return fields }
            if let asked = fields["category"], !asked.isEmpty, asked != category.rawValue {
                throw APIError.invalidField("This upload link is for \(category.rawValue) files only.", code: "invalid_category")
            }
            var out = fields
            out["category"] = category.rawValue
            return out
        }
        body.minimumRate = .init(bytesPerSecond: context.config.uploadMinimumBytesPerSecond,
                                 windowSeconds: context.config.uploadRateWindowSeconds)

        let now = context.clock.now()
        let ingest = FileIngest(context: context, cleanup: cleanup, identity: identity,
                                maxFileSize: account.plan.maxFileSizeBytes, requestID: request.requestID,
                                route: link == nil ? "upload" : "upload_link")
        do {
            var reader = MultipartFormReader(boundary: boundary)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            // The bytes after the file part: at least CR LF "--" boundary "--".
            let closing = Int64(boundary.utf8.count) + 6
            /// Reads and parses the next chunk of the body; false at its end.
            func pump() throws -> Bool {
                guard !reader.isComplete else { return false }
                let n = try body.read(into: buffer)
                guard n > 0 else { return false }
                try reader.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { bytes, form in
                    let headers = form.fileHeaders
                    try ingest.append(bytes, bodyRest: body.declaredLength.map { $0 - headers.dataOffset - closing }) {
                        // Too large to wait for the rest of the form: judge the
                        // file on the fields before it.
                        let soFar = UploadForm.FilePart(filename: headers.filename ?? "", contentType: headers.contentType,
                                                        head: form.fileHead, length: form.fileLength)
                        return try UploadForm.incomingFile(fields: try bound(form.fields), file: soFar, plan: account.plan,
                                                           identity: identity, now: now)
                    }
                }
                return true
            }
            while try pump() {
                // A part's body is pulled from the client's as the store takes it.
                if ingest.wantsPart { try ingest.sendPart { try pump() && !reader.hasReadFile } }
            }
            let form = try reader.finish()
            guard let part = form.file else { throw UploadForm.missingFile() }
            let file = try UploadForm.incomingFile(fields: try bound(form.fields), file: .init(filename: part.filename, contentType: part.contentType,
                                                                                    head: part.head, length: part.length),
                                                   plan: account.plan, identity: identity, now: now)
            let record = try ingest.finish(file)
            linkSpent = true
            // Location names the new file's record: a user file by its name, a
            // workflow file by its full key (a name never reaches one).
            let handle = file.workflow == nil ? record.objectName : PercentEncoding.encode(record.objectKey)
            return .json(201, Views.file(record), headers: [("Location", "/api/v1/storage/objects/\(handle)/metadata")])
        } catch let e as MultipartError {
            ingest.abandon()
            throw APIError.badRequest("The multipart body is malformed: \(e.description).", code: "malformed_multipart")
        } catch RequestBodyReader.Failure.tooSlow {
            ingest.abandon()
            context.metrics.add(.slowUploadsDropped)
            throw APIError.badRequest("The upload arrived slower than \(context.config.uploadMinimumBytesPerSecond) bytes per second "
                                      + "over \(context.config.uploadRateWindowSeconds) s and was dropped.", code: "upload_too_slow")
        } catch RequestBodyReader.Failure.unreadable {
            ingest.abandon()
            throw APIError.badRequest("The request body could not be read completely.", code: "malformed_multipart")
        } catch {
            ingest.abandon()
            throw error
        }
    }

    /// A body too long to hold an acceptable file is refused before it is read.
    private func admit(_ bodyLength: Int64?, _ account: Account) throws {
        if let bodyLength { try UploadScan.admit(size: bodyLength, allowance: Self.formAllowance, context.config.antivirus) }
        guard let bodyLength,
              let refusal = QuotaPolicy.admit(bodyLength: bodyLength, allowance: Self.formAllowance, plan: account.plan, state: account.quota)
        else { return }
        context.metrics.add(.quotaRejections)
        throw FileIngest.apiError(refusal)
    }

    private func openBody(_ request: HTTPRequest) throws -> RequestBodyReader {
        do {
            return try RequestBodyReader(request.body)
        } catch RequestBodyReader.Failure.missing {
            throw APIError.badRequest("The request has no body.", code: "malformed_multipart")
        } catch {
            throw APIError.badRequest("The request body could not be read.", code: "malformed_multipart")
        }
    }
}
