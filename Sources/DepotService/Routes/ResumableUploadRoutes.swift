import DepotAuth
import DepotCrypto
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

/// tus 1.0.0 at `/api/v1/storage/uploads` (CONTRACT.md, "Resumable
/// uploads"): creation (with its first bytes), `HEAD` for the offset,
/// `PATCH` for more bytes, termination, expiry, checksums. The bytes go
/// through `ResumablePatch`; a complete upload becomes a file through the
/// same rules and the same reservation commit as `POST /upload`.
///
/// Behind nginx's admission check (as `POST /upload`), a `POST` or `PATCH`
/// is judged from its headers before its body is read: token, length
/// against the plan and quota, the upload's owner and offset.
struct ResumableUploadRoutes {
    let context: ServiceContext
    let cleanup: StoreCleanup
    static let collection = "/api/v1/storage/uploads"
    /// How long a `PATCH` holds an upload's lock without recording progress.
    static let leaseSeconds: Int64 = 120
    static let notFound = APIError(404, "upload_not_found", "No such upload (it may have expired or been deleted).")
    private var completion: ResumableCompletion { ResumableCompletion(context: context, cleanup: cleanup) }

    func register(in table: inout RouteTable) {
        let one = Self.collection + "/{upload_id}"
        table.open("OPTIONS", Self.collection) { request, _ in try tus(request) { try options(request) } }
        table.open("OPTIONS", one) { request, p in
            try tus(request) {
                guard UUIDs.isValid(p["upload_id"] ?? "") else { throw Self.notFound }
                return try options(request)
            }
        }
        table.authenticated("POST", Self.collection) { request, _, identity in try tus(request) { try create(request, identity) } }
        table.authenticated("HEAD", one) { request, p, identity in try tus(request) { try head(request, p["upload_id"] ?? "", identity) } }
        table.authenticated("GET", one) { request, p, identity in try tus(request) { try show(p["upload_id"] ?? "", identity) } }
        table.authenticated("PATCH", one) { request, p, identity in try tus(request) { try patch(request, p["upload_id"] ?? "", identity) } }
        table.authenticated("DELETE", one) { request, p, identity in
            try tus(request) { try terminate(request, p["upload_id"] ?? "", identity) }
        }
    }

    /// Every tus answer, errors too, names the protocol version (CORS is
    /// `TusCORS`, added to every answer on these paths by the application).
    private func tus(_ request: HTTPRequest, _ body: () throws -> HTTPResponse) throws -> HTTPResponse {
        let extra = TusProtocol.versionHeaders
        do {
            var response = try body()
            response.headers += extra
            return response
        } catch var error as APIError {
            error.headers += extra
            throw error
        }
    }

    private func options(_ request: HTTPRequest) throws -> HTTPResponse {
        let largest = try context.metadata.plans().map(\.maxFileSizeBytes).max() ?? 0
        return HTTPResponse(status: 204, headers: [
            ("Tus-Version", TusProtocol.version), ("Tus-Extension", TusProtocol.extensions),
            ("Tus-Max-Size", String(largest)), ("Tus-Checksum-Algorithm", TusProtocol.checksumAlgorithms),
        ])
    }

    // MARK: Creation

    private func create(_ request: HTTPRequest, _ identity: Identity) throws -> HTTPResponse {
        try TusProtocol.requireVersion(request)
        if request.headers["upload-defer-length"] != nil {
            throw APIError.badRequest("Upload-Defer-Length is not supported; send Upload-Length.", code: "invalid_header")
        }
        guard let length = try TusHeaders.integer(request, "upload-length") else {
            throw APIError.badRequest("Upload-Length is required.", code: "invalid_header")
        }
        guard length > 0 else { throw APIError.badRequest("The file is empty.", code: "empty_file") }
        let metadataHeader = request.headers["upload-metadata"] ?? ""
        let metadata = try TusHeaders.metadata(metadataHeader)
        guard let filename = metadata["filename"], !filename.isEmpty else {
            throw APIError.badRequest("Upload-Metadata must carry a filename.", code: "missing_file")
        }
        let firstBytes = try chunkLength(request)
        if let firstBytes, firstBytes > length {
            throw APIError(413, "upload_too_long", "The body is longer than Upload-Length.")
        }
        guard let account = try context.metadata.account(organizationID: identity.organizationID) else { throw APIError.notFound }
        if let refusal = QuotaPolicy.check(size: length, plan: account.plan, state: account.quota) {
            context.metrics.add(.quotaRejections)
            throw FileIngest.apiError(refusal)
        }
        try UploadScan.admit(size: length, context.config.antivirus)
        let now = context.clock.now()
        var fields = metadata
        fields["filename"] = nil
        let file = try UploadForm.incomingFile(fields: fields, file: .init(filename: filename, contentType: metadata["filetype"],
                                                                           head: [], length: length),
                                               plan: account.plan, identity: identity, now: now, headKnown: false)
        if request.isUploadAdmission { return HTTPResponse(status: 204) }

        let keyID = context.config.masterKeys.current.id
        guard let sse = context.config.masterKeys.objectKey(keyID: keyID, objectKey: file.key) else { throw APIError.internalError }
        let storeUploadID = try context.store.createMultipartUpload(key: file.key, contentType: file.contentType, sse: sse)
        let seconds = context.clock.seconds
        let upload = ResumableUpload(
            id: UUIDs.random(), organizationID: identity.organizationID, userID: identity.userID, reservationID: UUIDs.random(),
            objectKey: file.key, objectName: file.objectName, originalFilename: file.originalFilename, contentType: file.contentType,
            category: file.category, workflowID: file.workflow?.id, runID: file.workflow?.run, direction: file.workflow?.direction.rawValue,
            workflowName: file.workflow?.name, metadataHeader: metadataHeader, length: length, offset: 0, storeUploadID: storeUploadID,
            keyID: keyID, partsBytes: 0, partCount: 0, stagedKey: nil, hashState: ResumableSHA256().state, head: [],
            createdAt: seconds, expiresAt: seconds + context.config.resumableExpirySeconds, fileID: nil, fileExpiresIn: file.expiresIn)
        switch try context.metadata.createResumableUpload(upload) {
        case .success: break
        case .failure(let refusal):
            try? context.store.abortMultipartUpload(key: file.key, uploadID: storeUploadID)
            context.metrics.add(.quotaRejections)
            throw FileIngest.apiError(refusal)
        }
        context.metrics.add(.resumableUploadsCreated)
        var headers = [("Location", context.config.publicURL + Self.collection + "/" + upload.id),
                       ("Upload-Expires", TusProtocol.httpDate(upload.expiresAt))]
        // creation-with-upload: the first bytes come with the creation. The
        // upload exists whatever becomes of them: the answer is its Location
        // and the offset of what was stored, so the client can go on.
        if let firstBytes, firstBytes > 0 {
            do {
                headers += try append(request, upload: upload, offset: 0, bodyLength: firstBytes,
                                      checksum: try TusProtocol.checksum(request.headers["upload-checksum"]), identity: identity)
            } catch let refusal as APIError where refusal.code == "malware_detected" {
                // The whole file came with its creation and was refused: the upload is gone.
                throw refusal
            } catch {
                Log.info("creation's first bytes not all stored", [("request_id", request.requestID), ("error", String(describing: error))])
                let offset = (try? context.metadata.resumableUpload(id: upload.id)?.offset) ?? 0
                headers.append(("Upload-Offset", String(offset)))
            }
        } else {
            headers.append(("Upload-Offset", "0"))
        }
        return HTTPResponse(status: 201, headers: headers)
    }

    // MARK: State

    /// The caller's own upload, or 404 (another user's upload does not exist for them).
    private func ownUpload(_ id: String, _ identity: Identity) throws -> ResumableUpload {
        guard UUIDs.isValid(id), let upload = try context.metadata.resumableUpload(id: id.lowercased()),
              upload.organizationID == identity.organizationID, upload.userID == identity.userID,
              upload.expiresAt >= context.clock.seconds else {
            throw Self.notFound
        }
        return upload
    }

    private func head(_ request: HTTPRequest, _ id: String, _ identity: Identity) throws -> HTTPResponse {
        try TusProtocol.requireVersion(request)
        var upload = try ownUpload(id, identity)
        if !request.isUploadAdmission { upload = try finishStalled(upload, identity) }
        var headers = [("Upload-Offset", String(upload.offset)),
                       ("Upload-Length", String(upload.length)), ("Upload-Expires", TusProtocol.httpDate(upload.expiresAt)),
                       ("Cache-Control", "no-store")]
        if !upload.metadataHeader.isEmpty { headers.append(("Upload-Metadata", upload.metadataHeader)) }
        return HTTPResponse(status: 200, headers: headers)
    }

    private func show(_ id: String, _ identity: Identity) throws -> HTTPResponse {
        let upload = try finishStalled(try ownUpload(id, identity), identity)
        let metadata = (try? TusHeaders.metadata(upload.metadataHeader)) ?? [:]
        let file = try upload.fileID == nil ? nil : context.metadata.file(key: upload.objectKey)
        return .json(200, [
            "id": .string(upload.id), "offset": .int(upload.offset), "length": .int(upload.length),
            "expires_at": .string(Timestamps.rfc3339(upload.expiresAt)),
            "metadata": .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }),
            "file": file.map(Views.file) ?? .null,
        ], headers: [("Cache-Control", "no-store")])
    }

    /// An upload whose bytes are all stored but which is no file yet (the
    /// worker completing it died between the store and the record) is
    /// finished now, so that a client told "all bytes are here" gets its file.
    private func finishStalled(_ upload: ResumableUpload, _ identity: Identity) throws -> ResumableUpload {
        guard upload.fileID == nil, upload.offset == upload.length else { return upload }
        guard case .locked(let locked) = try lock(upload.id) else { return upload }
        defer { try? context.metadata.unlockResumableUpload(id: upload.id, owner: lockOwner) }
        guard locked.fileID == nil, let sse = context.config.masterKeys.objectKey(keyID: locked.keyID, objectKey: locked.objectKey)
        else { return locked }
        let file = try completion.complete(locked, owner: lockOwner, sse: sse, identity: identity)
        var done = locked
        done.fileID = file.id
        return done
    }

    // MARK: Bytes

    /// The chunk's length from `Content-Length` (nil: none); bytes must
    /// come as `application/offset+octet-stream`.
    private func chunkLength(_ request: HTTPRequest) throws -> Int64? {
        let length = try TusHeaders.integer(request, "content-length")
        if let length, length > 0, request.headers["content-type"] != TusProtocol.chunkContentType {
            throw APIError(415, "unsupported_media_type", "A chunk must be sent as \(TusProtocol.chunkContentType).")
        }
        return length
    }

    private func patch(_ request: HTTPRequest, _ id: String, _ identity: Identity) throws -> HTTPResponse {
        try TusProtocol.requireVersion(request)
        guard request.headers["content-type"] == TusProtocol.chunkContentType else {
            throw APIError(415, "unsupported_media_type", "A chunk must be sent as \(TusProtocol.chunkContentType).")
        }
        guard let offset = try TusHeaders.integer(request, "upload-offset") else {
            throw APIError.badRequest("Upload-Offset is required.", code: "invalid_header")
        }
        guard let length = try chunkLength(request) else {
            throw APIError.badRequest("A chunk needs a Content-Length.", code: "length_required")
        }
        let checksum = try TusProtocol.checksum(request.headers["upload-checksum"])
        let upload = try ownUpload(id, identity)
        try judge(upload, offset: offset, length: length)
        if request.isUploadAdmission { return HTTPResponse(status: 204) }
        return HTTPResponse(status: 204, headers: try append(request, upload: upload, offset: offset, bodyLength: length,
                                                             checksum: checksum, identity: identity))
    }

    private func judge(_ upload: ResumableUpload, offset: Int64, length: Int64) throws {
        // (A completed upload's offset is its length.)
        guard offset == upload.offset else {
            throw APIError(409, "offset_mismatch", "Upload-Offset is \(offset) but the upload is at \(upload.offset).",
                           headers: [("Upload-Offset", String(upload.offset))])
        }
        guard offset + length <= upload.length else {
            throw APIError(413, "upload_too_long", "The chunk goes past Upload-Length (\(upload.length) bytes).")
        }
    }

    /// Appends the request's body under the upload's lock; completes the
    /// upload when its last byte came. Returns the answer's tus headers.
    private func append(_ request: HTTPRequest, upload: ResumableUpload, offset: Int64, bodyLength: Int64,
                        checksum: (DigestHasher, [UInt8])?, identity: Identity) throws -> [(String, String)] {
        let owner = lockOwner
        let locked: ResumableUpload
        switch try lock(upload.id) {
        case .missing: throw Self.notFound
        case .busy: throw APIError(409, "upload_locked", "Another request is sending bytes to this upload; retry once it ended.")
        case .locked(let u): locked = u
        }
        defer { try? context.metadata.unlockResumableUpload(id: upload.id, owner: owner) }
        try judge(locked, offset: offset, length: bodyLength)
        guard let sse = context.config.masterKeys.objectKey(keyID: locked.keyID, objectKey: locked.objectKey) else {
            throw APIError.internalError
        }
        var result = locked
        if bodyLength > 0 {
            let body: RequestBodyReader
            do { body = try RequestBodyReader(request.body) } catch {
                throw APIError.badRequest("The chunk could not be read.", code: "bad_request")
            }
            body.minimumRate = .init(bytesPerSecond: context.config.uploadMinimumBytesPerSecond,
                                     windowSeconds: context.config.uploadRateWindowSeconds)
            let patch = try ResumablePatch(context: context, upload: locked, owner: owner, leaseSeconds: Self.leaseSeconds, sse: sse,
                                           body: body, bodyLength: bodyLength, checksum: checksum)
            do {
                result = try patch.run()
            } catch RequestBodyReader.Failure.tooSlow {
                context.metrics.add(.slowUploadsDropped)
                throw APIError.badRequest("The chunk arrived slower than \(context.config.uploadMinimumBytesPerSecond) bytes per second.",
                                          code: "upload_too_slow")
            } catch RequestBodyReader.Failure.unreadable {
                throw APIError.badRequest("The chunk ended before its Content-Length.", code: "bad_request")
            }
        }
        // tus expiration: every PATCH answer says when the upload expires.
        var headers = [("Upload-Offset", String(result.offset)), ("Upload-Expires", TusProtocol.httpDate(result.expiresAt))]
        if result.offset == result.length && result.fileID == nil {
            headers.append(("Depot-File-Id", try completion.complete(result, owner: owner, sse: sse, identity: identity).id))
        }
        return headers
    }

    // MARK: Termination

    private func terminate(_ request: HTTPRequest, _ id: String, _ identity: Identity) throws -> HTTPResponse {
        try TusProtocol.requireVersion(request)
        let upload = try ownUpload(id, identity)
        // nginx's admission asks first (every method of this location): judged, not done.
        if request.isUploadAdmission { return HTTPResponse(status: 204) }
        completion.remove(upload, reason: "upload terminated")
        context.metrics.add(.resumableUploadsTerminated)
        return HTTPResponse(status: 204)
    }

    // MARK: Locks

    /// `host pid start`: which process holds an upload's lock.
    static func lockOwner(_ process: (pid: Int32, start: String)) -> String {
        "\(ProcessIdentity.hostName) \(process.pid) \(process.start)"
    }

    private var lockOwner: String { Self.lockOwner(context.owner) }

    /// Takes the upload's lock for this worker for a lease.
    private func lock(_ id: String) throws -> ResumableUploadLock {
        let now = context.clock.seconds
        return try context.metadata.lockResumableUpload(id: id, owner: lockOwner, now: now, until: now + Self.leaseSeconds,
                                                        ownerIsAlive: Self.lockOwnerIsAlive)
    }

    /// Whether the process holding a lock lives: known on this host (a live
    /// holder keeps its lock however long its request runs); nil for another
    /// host's, whose lock lasts until its lease ends.
    static func lockOwnerIsAlive(_ owner: String) -> Bool? {
        let parts = owner.split(separator: " ")
        guard parts.count == 3, let pid = Int32(parts[1]), parts[0] == ProcessIdentity.hostName else { return nil }
        return ProcessIdentity.isAlive(pid: pid, start: String(parts[2]))
    }
}
