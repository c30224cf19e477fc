import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

/// The reservation protocol every upload route goes through:
/// 1. reserve the file's size against the plan and quota (atomic; a refusal
///    is a 413 and nothing else happens);
/// 2. send the bytes to the store encrypted with the object's SSE-C key
///    (single PUT up to the threshold, multipart above it, the upload id
///    recorded on the reservation so a clean-up can abort it);
/// 3. swap the reservation for the file record in one transaction.
/// Any failure after 1 releases the reservation and queues the object for
/// deletion; a release the database cannot take now is retried by this worker.
struct FileIngest {
    let context: ServiceContext
    let cleanup: StoreCleanup

    /// `body`: the file's bytes, `file.size` of them from `offset` in `descriptor`.
    func store(_ file: IncomingFile, sha256: String, descriptor: Int32, offset: Int64, identity: Identity,
               requestID: String) throws -> StoredFile {
        let now = context.clock.seconds
        let reservation = try context.metadata.reserve(organizationID: identity.organizationID, userID: identity.userID,
                                                       bytes: file.size, objectKey: file.key, ownerPID: context.owner.pid,
                                                       ownerStart: context.owner.start, now: now,
                                                       ttl: context.config.reservationTTLSeconds)
        let reservationID: String
        switch reservation {
        case .success(let id): reservationID = id
        case .failure(let refusal):
            context.metrics.add(.quotaRejections)
            throw Self.apiError(refusal)
        }

        let keyID = context.config.masterKeys.current.id
        let etag: String
        do {
            guard let sse = context.config.masterKeys.objectKey(keyID: keyID, objectKey: file.key) else { throw APIError.internalError }
            etag = try send(file, descriptor: descriptor, offset: offset, sse: sse, reservationID: reservationID)
        } catch {
            cleanup.abandon(reservationID: reservationID, key: file.key, requestID: requestID)
            throw error
        }

        let record = StoredFile(id: UUIDs.random(), organizationID: identity.organizationID, userID: identity.userID,
                                objectKey: file.key, objectName: file.objectName, originalFilename: file.originalFilename,
                                size: file.size, contentType: file.contentType, category: file.category, sha256: sha256,
                                etag: etag, keyID: keyID, uploadedAt: now, bucket: context.store.bucket,
                                workflowID: file.workflow?.id, runID: file.workflow?.run, direction: file.workflow?.direction)
        let committed: Bool
        do {
            committed = try context.metadata.commitUpload(reservationID: reservationID, file: record, workflowName: file.workflow?.name)
        } catch {
            cleanup.abandon(reservationID: reservationID, key: file.key, requestID: requestID)
            throw error
        }
        guard committed else {
            // A clean-up reclaimed the reservation (it outlived its TTL); the
            // object is already queued for deletion, so report the failure.
            try? context.store.deleteObject(key: file.key)
            throw APIError.unavailable("upload_expired", "The upload took longer than its reservation allows; retry it.")
        }
        context.metrics.add(.uploadBytes, file.size)
        return record
    }

    /// Single PUT up to the threshold, S3 multipart above it (parts read from
    /// the body file as they go; the upload id is recorded for clean-up).
    private func send(_ file: IncomingFile, descriptor: Int32, offset: Int64, sse: SSECustomerKey,
                      reservationID: String) throws -> String {
        let store = context.store, config = context.config
        if file.size <= config.multipartThreshold {
            return Self.bareETag(try store.putObject(key: file.key, body: .file(descriptor: descriptor, offset: offset, length: file.size),
                                                     contentType: file.contentType, sse: sse))
        }
        let uploadID = try store.createMultipartUpload(key: file.key, contentType: file.contentType, sse: sse)
        do {
            try context.metadata.attachUpload(reservationID: reservationID, uploadID: uploadID)
            var parts: [(number: Int, etag: String)] = []
            var position: Int64 = 0
            var number = 1
            while position < file.size {
                let size = min(config.partSize, file.size - position)
                let etag = try store.uploadPart(key: file.key, uploadID: uploadID, partNumber: number,
                                                body: .file(descriptor: descriptor, offset: offset + position, length: size), sse: sse)
                parts.append((number, etag))
                position += size
                number += 1
            }
            return Self.bareETag(try store.completeMultipartUpload(key: file.key, uploadID: uploadID, parts: parts, sse: sse))
        } catch {
            try? store.abortMultipartUpload(key: file.key, uploadID: uploadID)
            throw error
        }
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
