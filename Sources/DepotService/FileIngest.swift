import DepotAuth
import DepotCrypto
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

/// One file on its way into Depot, fed its bytes as they arrive, through the
/// reservation protocol every upload route follows:
/// 1. reserve the file's size against the plan and quota (atomic; a refusal
///    is a 413 and nothing else happens);
/// 2. send the bytes to the store encrypted with the object's SSE-C key;
/// 3. swap the reservation for the file record in one transaction.
/// Any failure after 1 releases the reservation, aborts what reached the
/// store and queues the key for deletion (`abandon`); a release the database
/// cannot take now is retried by this worker.
///
/// Files up to the multipart threshold are held in memory until their size
/// and every form field are known, then reserved and sent with one PUT. A
/// larger file cannot wait: when the threshold is crossed it is judged on
/// what is known so far (`begin`), room is reserved for the most it can
/// still grow to, and it goes out in parts while it arrives, so a 1 GiB
/// upload needs neither a temp copy nor a second pass. Memory: at most the
/// threshold plus one part.
final class FileIngest {
    private let context: ServiceContext
    private let cleanup: StoreCleanup
    private let identity: Identity
    private let requestID: String
    private let threshold: Int
    private let partSize: Int
    private let maxFileSize: Int64

    private var pending: [UInt8] = []
    private var received: Int64 = 0
    private let hasher = DigestHasher(.sha256)
    /// Set once the file is reserved and (for large files) its multipart upload exists.
    private var transfer: Transfer?

    private struct Transfer {
        var file: IncomingFile
        var reservationID: String
        var reservedBytes: Int64
        var keyID: String
        var sse: SSECustomerKey
        var uploadID: String?
        var parts: [(number: Int, etag: String)] = []
    }

    /// `maxFileSize`: the plan's limit, which no file may pass while it streams.
    init(context: ServiceContext, cleanup: StoreCleanup, identity: Identity, maxFileSize: Int64, requestID: String) {
        self.context = context
        self.maxFileSize = maxFileSize
        self.cleanup = cleanup
        self.identity = identity
        self.requestID = requestID
        threshold = Int(clamping: max(context.config.multipartThreshold, 0))
        partSize = Int(clamping: context.config.partSize)
    }

    /// The file's next bytes. `judgeSoFar` is asked once, when the file
    /// outgrows the threshold: the file as known so far, and the most bytes
    /// it may still have in all (room is reserved for that).
    func append(_ bytes: UnsafeRawBufferPointer, judgeSoFar: () throws -> (file: IncomingFile, maxBytes: Int64)) throws {
        hasher.update(bytes)
        received += Int64(bytes.count)
        pending.append(contentsOf: bytes)
        if transfer == nil {
            guard pending.count > threshold else { return }
            let (file, maxBytes) = try judgeSoFar()
            try begin(file, reserving: maxBytes)
        }
        guard let t = transfer else { return }
        // The reservation is the most the file could still be (the body's
        // length, capped by the plan's limit); a file past it is past the limit.
        if received > t.reservedBytes { throw FileIngest.apiError(.fileTooLarge(limit: maxFileSize)) }
        while pending.count >= partSize { try sendPart(count: partSize) }
    }

    /// The file is complete and `file` is what the whole form says of it.
    /// A large file's form must not contradict what it was judged on.
    func finish(_ file: IncomingFile) throws -> StoredFile {
        let sha256 = Hex.encode(hasher.finalize())
        let record: StoredFile
        if var t = transfer {
            guard file.workflow?.id == t.file.workflow?.id, file.workflow?.run == t.file.workflow?.run,
                  file.workflow?.direction == t.file.workflow?.direction, file.contentType == t.file.contentType else {
                throw APIError.invalidField("Fields that decide where a large file is stored (workflow_id, run_id, direction, category) "
                                            + "must come before the file part.")
            }
            if !pending.isEmpty || t.parts.isEmpty { try sendPart(count: pending.count) }
            t = transfer!
            let etag = try context.store.completeMultipartUpload(key: t.file.key, uploadID: t.uploadID!, parts: t.parts, sse: t.sse)
            var final = file
            (final.key, final.objectName) = (t.file.key, t.file.objectName)
            record = makeRecord(final, sha256: sha256, etag: etag, keyID: t.keyID)
        } else {
            try begin(file, reserving: file.size)
            let t = transfer!
            let etag = try context.store.putObject(key: file.key, body: .bytes(pending), contentType: file.contentType, sse: t.sse)
            pending = []
            record = makeRecord(file, sha256: sha256, etag: etag, keyID: t.keyID)
        }
        try commit(record, workflowName: file.workflow?.name)
        return record
    }

    /// Gives back whatever this upload holds; call on any failure.
    func abandon() {
        guard let t = transfer else { return }
        transfer = nil
        if let uploadID = t.uploadID { try? context.store.abortMultipartUpload(key: t.file.key, uploadID: uploadID) }
        cleanup.abandon(reservationID: t.reservationID, key: t.file.key, requestID: requestID)
    }

    private func begin(_ file: IncomingFile, reserving bytes: Int64) throws {
        let reservation = try context.metadata.reserve(organizationID: identity.organizationID, userID: identity.userID,
                                                       bytes: bytes, objectKey: file.key, ownerPID: context.owner.pid,
                                                       ownerStart: context.owner.start, now: context.clock.seconds,
                                                       ttl: context.config.reservationTTLSeconds)
        let reservationID: String
        switch reservation {
        case .success(let id): reservationID = id
        case .failure(let refusal):
            context.metrics.add(.quotaRejections)
            throw Self.apiError(refusal)
        }
        let keyID = context.config.masterKeys.current.id
        guard let sse = context.config.masterKeys.objectKey(keyID: keyID, objectKey: file.key) else {
            cleanup.abandon(reservationID: reservationID, key: file.key, requestID: requestID)
            throw APIError.internalError
        }
        transfer = Transfer(file: file, reservationID: reservationID, reservedBytes: bytes, keyID: keyID, sse: sse)
        guard received > threshold else { return }
        let uploadID = try context.store.createMultipartUpload(key: file.key, contentType: file.contentType, sse: sse)
        transfer?.uploadID = uploadID
        try context.metadata.attachUpload(reservationID: reservationID, uploadID: uploadID)
    }

    /// Sends the first `count` pending bytes as the next part.
    private func sendPart(count: Int) throws {
        guard let t = transfer, let uploadID = t.uploadID else { return }
        let number = t.parts.count + 1
        let etag = try context.store.uploadPart(key: t.file.key, uploadID: uploadID, partNumber: number,
                                                body: .bytes(Array(pending[0..<count])), sse: t.sse)
        pending.removeFirst(count)
        transfer?.parts.append((number, etag))
    }

    private func makeRecord(_ file: IncomingFile, sha256: String, etag: String, keyID: String) -> StoredFile {
        StoredFile(id: UUIDs.random(), organizationID: identity.organizationID, userID: identity.userID,
                   objectKey: file.key, objectName: file.objectName, originalFilename: file.originalFilename,
                   size: received, contentType: file.contentType, category: file.category, sha256: sha256,
                   etag: Self.bareETag(etag), keyID: keyID, uploadedAt: context.clock.seconds, bucket: context.store.bucket,
                   workflowID: file.workflow?.id, runID: file.workflow?.run, direction: file.workflow?.direction)
    }

    private func commit(_ record: StoredFile, workflowName: String?) throws {
        guard let t = transfer else { return }
        let committed = try context.metadata.commitUpload(reservationID: t.reservationID, file: record, workflowName: workflowName)
        guard committed else {
            // A clean-up reclaimed the reservation (it outlived its TTL); the
            // object is already queued for deletion, so report the failure.
            transfer = nil
            try? context.store.deleteObject(key: record.objectKey)
            throw APIError.unavailable("upload_expired", "The upload took longer than its reservation allows; retry it.")
        }
        transfer = nil
        context.metrics.add(.uploadBytes, record.size)
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
