import DepotAuth
import DepotCrypto
import DepotEncoding
import DepotDomain
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

extension DepotService {
    /// `POST /api/v1/storage/upload`: scan the body once (fields, limits,
    /// hash), reserve quota, stream the file part to the store encrypted, then
    /// swap the reservation for the record. Any failure releases everything.
    func upload(_ request: HTTPRequest) throws -> HTTPResponse {
        let identity = try authenticate(request)
        guard let contentType = request.headers["Content-Type"] else {
            throw APIError.badRequest("The body must be multipart/form-data.", code: "malformed_multipart")
        }
        let boundary: String
        do { boundary = try multipartBoundary(fromContentType: contentType) } catch {
            throw APIError.badRequest("The body must be multipart/form-data with a boundary.", code: "malformed_multipart")
        }
        let account = try account(identity)
        let body = try UploadBody(request.body, scratchDirectory: config.bodyTempDirectory)
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
        guard let part = form.file else { throw APIError.badRequest("The form has no `file` part with a file name.", code: "missing_file") }
        guard part.length > 0 else { throw APIError.badRequest("The file is empty.", code: "empty_file") }

        let categoryText = form.fields["category"].flatMap { $0.isEmpty ? nil : $0 } ?? FileCategory.general.rawValue
        guard let category = FileCategory(rawValue: categoryText) else {
            throw APIError.invalidField("category must be data_source, profile_image or general.", code: "invalid_category")
        }
        guard account.plan.allowedCategories.contains(category) else {
            throw APIError.invalidField("The \(account.plan.name) plan does not allow the \(category.rawValue) category.", code: "invalid_category")
        }
        let originalFilename = part.filename.isEmpty ? "upload" : part.filename
        var storedType = ContentTypes.normalize(declared: part.contentType, filename: originalFilename)
        if category == .profileImage {
            guard let sniffed = ImageSniffer.imageType(part.head) else {
                throw APIError(415, "unsupported_media_type", "A profile image must be a PNG, JPEG, GIF or WebP file.")
            }
            guard part.length <= FileCategory.profileImageMaxBytes else {
                throw APIError(413, "file_too_large", "A profile image may be at most 5 MiB.")
            }
            storedType = sniffed
        }
        let workflow = try workflowFields(form.fields)

        let now = Date()
        let made = workflow.map {
            ObjectKeys.workflowFileKey(organizationID: identity.organizationID, workflowID: $0.id, runID: $0.run,
                                       direction: $0.direction, originalFilename: originalFilename)
        } ?? ObjectKeys.userFileKey(organizationID: identity.organizationID, userID: identity.userID,
                                    originalFilename: originalFilename, at: now)

        let reservation = try metadata.reserve(organizationID: identity.organizationID, userID: identity.userID, bytes: part.length,
                                               objectKey: made.key, ownerPID: owner.pid, ownerStart: owner.start,
                                               now: Int64(now.timeIntervalSince1970), ttl: config.reservationTTLSeconds)
        let reservationID: String
        switch reservation {
        case .success(let id): reservationID = id
        case .failure(let refusal):
            metrics.add(.quotaRejections)
            throw Self.apiError(refusal)
        }

        let keyID = config.masterKeys.current.id
        let etag: String
        do {
            guard let sse = config.masterKeys.objectKey(keyID: keyID, objectKey: made.key) else { throw APIError.internalError }
            etag = try sendToStore(key: made.key, descriptor: body.descriptor, offset: part.offset, length: part.length,
                                   contentType: storedType, sse: sse, reservationID: reservationID)
        } catch {
            abandon(reservationID: reservationID, key: made.key, request: request)
            throw error
        }

        let file = StoredFile(id: UUIDs.random(), organizationID: identity.organizationID, userID: identity.userID,
                              objectKey: made.key, objectName: made.name, originalFilename: originalFilename, size: part.length,
                              contentType: storedType, category: category, sha256: sha256, etag: etag, keyID: keyID,
                              uploadedAt: Int64(now.timeIntervalSince1970), bucket: config.store.bucket,
                              workflowID: workflow?.id, runID: workflow?.run, direction: workflow?.direction)
        let committed: Bool
        do {
            committed = try metadata.commitUpload(reservationID: reservationID, file: file, workflowName: workflow?.name)
        } catch {
            abandon(reservationID: reservationID, key: made.key, request: request)
            throw error
        }
        guard committed else {
            // A clean-up reclaimed the reservation (it outlived its TTL); the
            // object is already queued for deletion, so report the failure.
            try? store.deleteObject(key: made.key)
            throw APIError.unavailable("upload_expired", "The upload took longer than its reservation allows; retry it.")
        }
        metrics.add(.uploadBytes, part.length)
        // Location names the new file's record; a workflow file has no route
        // of its own (its key is not under the caller's folder).
        let location: [(String, String)] = workflow == nil ? [("Location", "/api/v1/storage/objects/\(made.name)/metadata")] : []
        return HTTPResponse.json(201, Views.file(file), headers: location)
    }

    /// Single PUT up to the threshold, S3 multipart above it (parts read from
    /// the body file as they go; the upload id is recorded for clean-up).
    private func sendToStore(key: String, descriptor: Int32, offset: Int64, length: Int64, contentType: String,
                             sse: SSECustomerKey, reservationID: String) throws -> String {
        if length <= config.multipartThreshold {
            return Self.bareETag(try store.putObject(key: key, body: .file(descriptor: descriptor, offset: offset, length: length),
                                                     contentType: contentType, sse: sse))
        }
        let uploadID = try store.createMultipartUpload(key: key, contentType: contentType, sse: sse)
        do {
            try metadata.attachUpload(reservationID: reservationID, uploadID: uploadID)
            var parts: [(number: Int, etag: String)] = []
            var position: Int64 = 0
            var number = 1
            while position < length {
                let size = min(config.partSize, length - position)
                let etag = try store.uploadPart(key: key, uploadID: uploadID, partNumber: number,
                                                body: .file(descriptor: descriptor, offset: offset + position, length: size), sse: sse)
                parts.append((number, etag))
                position += size
                number += 1
            }
            return Self.bareETag(try store.completeMultipartUpload(key: key, uploadID: uploadID, parts: parts, sse: sse))
        } catch {
            try? store.abortMultipartUpload(key: key, uploadID: uploadID)
            throw error
        }
    }

    /// Gives the reservation back and removes whatever reached the store; if
    /// the store is down the clean-up pass finishes the job. If the database
    /// cannot take the release now (locked, full), this worker retries it
    /// later (`retryDeferredWork`).
    private func abandon(reservationID: String, key: String, request: HTTPRequest) {
        do {
            try metadata.releaseReservation(id: reservationID, now: Int64(Date().timeIntervalSince1970), reason: "upload failed")
        } catch {
            deferredReleases.append((reservationID, key))
            Log.warning("upload clean-up deferred", [("request_id", request.requestID), ("error", String(describing: error))])
            return
        }
        deleteQueuedObject(key, requestID: request.requestID)
    }

    private struct WorkflowFields {
        var id: String
        var run: String
        var direction: ObjectKeys.Direction
        var name: String?
    }

    private func workflowFields(_ fields: [String: String]) throws -> WorkflowFields? {
        let id = fields["workflow_id"].flatMap { $0.isEmpty ? nil : $0 }
        let run = fields["run_id"].flatMap { $0.isEmpty ? nil : $0 }
        let direction = fields["direction"].flatMap { $0.isEmpty ? nil : $0 }
        let name = fields["workflow_name"].flatMap { $0.isEmpty ? nil : $0 }
        if id == nil && run == nil && direction == nil {
            if name != nil { throw APIError.invalidField("workflow_name needs workflow_id, run_id and direction.") }
            return nil
        }
        guard let id, let run, let direction else {
            throw APIError.invalidField("workflow_id, run_id and direction must be given together.")
        }
        guard UUIDs.isValid(id), UUIDs.isValid(run) else { throw APIError.invalidField("workflow_id and run_id must be UUIDs.") }
        guard let d = ObjectKeys.Direction(rawValue: direction) else { throw APIError.invalidField("direction must be input or output.") }
        if let name, name.count > 200 || name.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw APIError.invalidField("workflow_name must be at most 200 printable characters.")
        }
        return WorkflowFields(id: id.lowercased(), run: run.lowercased(), direction: d, name: name)
    }

    static func apiError(_ refusal: QuotaRefusal) -> APIError {
        switch refusal {
        case .fileTooLarge(let limit):
            return APIError(413, "file_too_large", "The file is larger than the plan's limit of \(limit) bytes per file.")
        case .quotaExceeded(let available):
            return APIError(413, "quota_exceeded", "The organization's storage quota is exhausted (\(available) bytes available).")
        case .tooManyFiles(let limit):
            return APIError(413, "too_many_files", "The organization already stores the plan's maximum of \(limit) files.")
        }
    }

    static func bareETag(_ etag: String) -> String {
        etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

/// The request body as an open file: nginx's temp file when it handed one
/// over, otherwise the FastCGI stream spooled to an unlinked scratch file.
struct UploadBody {
    let descriptor: Int32
    let length: Int64

    init(_ body: RequestBody, scratchDirectory: String?) throws {
        switch body {
        case .none:
            throw APIError.badRequest("The request has no body.", code: "malformed_multipart")
        case .file(let path, let length):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw APIError.badRequest("The request body could not be read.", code: "malformed_multipart") }
            descriptor = fd
            self.length = length
        case .stream(_, let read):
            var template = Array(((scratchDirectory ?? NSTemporaryDirectory()) + "/depot-body-XXXXXX").utf8CString)
            let fd = mkstemp(&template)
            guard fd >= 0 else { throw APIError.unavailable("server_busy", "The server cannot take the request body right now.") }
            unlink(String(cString: template))
            var total: Int64 = 0
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = read(buffer)
                if n <= 0 { break }
                var written = 0
                while written < n {
                    let w = Glibc.write(fd, buffer.baseAddress! + written, n - written)
                    if w < 0 {
                        if errno == EINTR { continue }
                        Glibc.close(fd)
                        throw APIError.unavailable("server_busy", "The server cannot take the request body right now.")
                    }
                    written += w
                }
                total += Int64(n)
            }
            descriptor = fd
            length = total
        }
    }

    func close() { Glibc.close(descriptor) }
}
