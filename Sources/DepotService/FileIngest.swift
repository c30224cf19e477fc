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
/// Whether a file streams is decided at its first bytes, from the most it
/// can be (the body's length less the form around it, capped by the plan's
/// limit). A file that can stay within the multipart threshold is held in
/// memory until its size and every form field are known, then reserved and
/// sent with one PUT. A larger one is judged on the fields before it
/// (`begin`), room is reserved for the most it can be, and it goes out as a
/// multipart upload while it arrives: a part is a store request whose body
/// the store client pulls from `read(at:into:)`, which reads the client's
/// body as the store takes bytes, so receiving and sending overlap and a
/// 1 GiB upload needs neither a temp copy nor a second pass.
///
/// The parts: when the body's length is known, one part of all but the last
/// `formTail` bytes the file can be, passed through without being kept (few
/// parts cost the store least), then the rest, held in memory, as the last
/// part. A form with more than `formTail` bytes after its file is refused:
/// the fields it may carry fit many times over. Without a length, parts of
/// `part_size`, each held until it is sent (a part cut short by the file's
/// end is sent again as the last). Memory: the threshold, or one part, or
/// `formTail` plus one read.
///
/// With a virus scanner configured, every file byte is also fed to the scan
/// as it passes (`append`), and the verdict is asked for in `finish` before
/// the file is committed: before the small file's PUT, before the streamed
/// file's last part and completion. A refusal there leaves the reservation
/// and the multipart upload for `abandon`, as any failure does.
final class FileIngest: StoreBodySource {
    private let context: ServiceContext
    private let cleanup: StoreCleanup
    private let identity: Identity
    private let requestID: String
    private let threshold: Int
    private let partSize: Int
    private let maxFileSize: Int64

    /// File bytes not yet in a finished part, from offset `windowStart` of
    /// the part being sent (0 unless that part is passed through).
    private var pending: [UInt8] = []
    private var windowStart = 0
    private var received: Int64 = 0
    /// The most the whole file can be, and whether the body's length said so.
    private var mostBytes: Int64 = 0
    private var lengthKnown = false
    /// Bytes in finished parts.
    private var sentBytes: Int64 = 0
    /// Set once no more file bytes can come (the file part or the body ended).
    private var fileEnded = false
    /// Set when a passed-through part was cut short by the file's end.
    private var passedPartCut = false
    /// While a part is being sent: reads the next chunk of the body.
    private var pull: (() throws -> Bool)?
    /// The part being sent is passed through (its sent bytes dropped): a
    /// part pulled from the body of known length. The tail, sent from
    /// memory, and the parts of a body without a length are kept.
    private var passesThrough: Bool { lengthKnown && pull != nil }
    private let hasher = DigestHasher(.sha256)
    /// The virus scan the bytes go through (nil: no scanner configured).
    private let scan: UploadScan?
    /// The route the file came by, for a rejection's report.
    private let route: String
    /// Set once the file is reserved (and, for a streamed file, its multipart upload exists).
    private var transfer: Transfer?

    private struct Transfer {
        var file: IncomingFile
        var reservationID: String
        var keyID: String
        var sse: SSECustomerKey
        var uploadID: String?
        var parts: [(number: Int, etag: String)] = []
    }

    /// Bytes of the form that may follow a large file: more than its fields
    /// can be (32 parts of 8 KiB headers and 64 KiB values).
    static let formTail = 4 << 20
    /// S3's part sizes: every part but the last at least 5 MiB, none over 5 GiB.
    private static let partSizes: ClosedRange<Int64> = (5 << 20)...(5 << 30)
    /// The file's first bytes the form keeps for sniffing its type.
    private static let sniffedHead = 64
    /// Room past one part for the read that completes it.
    private static let readAhead = 1 << 20
    /// Bytes handed to the store client at once, when there are that many.
    private static let sendSize = 256 << 10
    /// The longest a send's worth is gathered before what has arrived goes.
    private static let gatherSeconds = 0.05
    /// Bytes a passed-through part lets gather before dropping what was sent.
    private static let dropAfter = 256 << 10

    /// `maxFileSize`: the plan's limit, which no file may pass while it streams.
    init(context: ServiceContext, cleanup: StoreCleanup, identity: Identity, maxFileSize: Int64, requestID: String,
         route: String = "upload") {
        self.context = context
        self.maxFileSize = maxFileSize
        self.cleanup = cleanup
        self.identity = identity
        self.requestID = requestID
        threshold = Int(clamping: max(context.config.multipartThreshold, 0))
        partSize = Int(clamping: context.config.partSize)
        scan = UploadScan(context: context, requestID: requestID)
        self.route = route
    }

    /// The file's next bytes. `bodyRest`: the most the file can be by the
    /// body's length (nil: no length), read at the first call. `judgeSoFar`
    /// is asked once, at the first 64 bytes, when the file may outgrow the
    /// threshold: the file as the form before it describes it.
    func append(_ bytes: UnsafeRawBufferPointer, bodyRest: @autoclosure () -> Int64?,
                judgeSoFar: () throws -> IncomingFile) throws {
        if received == 0 {
            let rest = bodyRest()
            lengthKnown = rest != nil
            mostBytes = max(0, min(rest ?? .max, maxFileSize))
        }
        hasher.update(bytes)
        try scan?.feed(bytes)
        received += Int64(bytes.count)
        // (A file past what the body's length leaves it is a form that never
        // closes: the parser reports it truncated at the body's end.)
        if received > maxFileSize { throw FileIngest.apiError(.fileTooLarge(limit: maxFileSize)) }
        pending.append(contentsOf: bytes)
        // Judged once the head the image sniffer reads has arrived.
        if transfer == nil, mostBytes > threshold, received >= Self.sniffedHead {
            try begin(try judgeSoFar(), reserving: mostBytes, multipart: true)
            pending.reserveCapacity((lengthKnown ? Self.formTail : partSize) + Self.readAhead)
        }
    }

    /// True when a part should be sent now: the file streams and what may
    /// still come of it makes one.
    var wantsPart: Bool { pull == nil && !fileEnded && transfer?.uploadID != nil && nextPartLength != nil }

    private var nextPartLength: Int64? {
        let rest = mostBytes - sentBytes
        if lengthKnown {
            let length = min(rest - Int64(Self.formTail), Self.partSizes.upperBound)
            return length >= Self.partSizes.lowerBound ? length : nil
        }
        return rest >= Int64(partSize) ? Int64(partSize) : nil
    }

    /// Sends the next part while its bytes arrive: `more` reads the next
    /// chunk of the body (feeding it back through `append`) and returns
    /// false once no more file bytes can come.
    func sendPart(pulling more: () throws -> Bool) throws {
        guard let t = transfer, let uploadID = t.uploadID, let length = nextPartLength else { return }
        let number = t.parts.count + 1
        let etag: String
        do {
            etag = try withoutActuallyEscaping(more) { more in
                pull = more
                defer { pull = nil }
                return try context.store.uploadPart(key: t.file.key, uploadID: uploadID, partNumber: number,
                                                    body: .stream(self, length: length), sse: t.sse)
            }
        } catch is StoreError where fileEnded && received - sentBytes < length {
            // The file ended inside this part. A kept part goes again, whole,
            // as the last (`finish`); a passed-through one is lost, and the
            // form is refused unless the body was cut (then it is truncated).
            passedPartCut = lengthKnown
            return
        }
        pending.removeFirst(Int(length) - windowStart)
        windowStart = 0
        sentBytes += length
        transfer?.parts.append((number, etag))
    }

    /// The store client's pull (`StoreBodySource`): the bytes of the part
    /// being sent from `offset` (counted from the part's start) on, reading
    /// the body for them if they have not arrived. A kept part can be read
    /// again from its start (libcurl retries on a fresh connection); a
    /// passed-through part only from where it was dropped.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let start = Int(offset) - windowStart
        guard start >= 0 else { throw StoreError.unavailable("a streamed part cannot be sent again") }
        // Gather a send's worth: the body comes one FastCGI record (a few KiB)
        // at a time, and a send per record costs the worker and the store.
        // Only briefly, though: a slow client's bytes must not wait so long
        // that the store (or libcurl's stall check) gives up on the request.
        let want = min(buffer.count, Self.sendSize)
        let deadline = ProcessInfo.processInfo.systemUptime + Self.gatherSeconds
        while pending.count - start < want, !fileEnded, let pull {
            if try !pull() { fileEnded = true }
            if pending.count > start, ProcessInfo.processInfo.systemUptime >= deadline { break }
        }
        guard start < pending.count else { return 0 }
        let count = min(buffer.count, pending.count - start)
        pending.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
        if passesThrough, start + count >= Self.dropAfter {
            pending.removeFirst(start + count)
            windowStart += start + count
        }
        return count
    }

    /// The file is complete and `file` is what the whole form says of it.
    /// A streamed file's form must not contradict what it was judged on.
    func finish(_ file: IncomingFile) throws -> StoredFile {
        fileEnded = true
        let sha256 = Hex.encode(hasher.finalize())
        // The verdict before anything is committed (or, for a small file, stored).
        try scan?.judge(RejectedUpload(organizationID: identity.organizationID, userID: identity.userID,
                                       originalFilename: file.originalFilename, size: received, route: route,
                                       reason: "malware_detected", signature: ""))
        let record: StoredFile
        if let t = transfer, let uploadID = t.uploadID {
            guard file.workflow?.id == t.file.workflow?.id, file.workflow?.run == t.file.workflow?.run,
                  file.workflow?.direction == t.file.workflow?.direction, file.contentType == t.file.contentType else {
                throw APIError.invalidField("Fields that decide where a large file is stored (workflow_id, run_id, direction, category) "
                                            + "must come before the file part.")
            }
            guard !passedPartCut else {
                throw APIError.badRequest("More than \(Self.formTail >> 20) MiB of the form follows the file part; "
                                          + "send other parts before the file.", code: "malformed_multipart")
            }
            if !pending.isEmpty || t.parts.isEmpty {
                let etag = try context.store.uploadPart(key: t.file.key, uploadID: uploadID, partNumber: t.parts.count + 1,
                                                        body: .stream(self, length: Int64(pending.count)), sse: t.sse)
                transfer?.parts.append((t.parts.count + 1, etag))
            }
            let etag = try context.store.completeMultipartUpload(key: t.file.key, uploadID: uploadID, parts: transfer!.parts, sse: t.sse)
            var final = file
            (final.key, final.objectName) = (t.file.key, t.file.objectName)
            record = makeRecord(final, sha256: sha256, etag: etag, keyID: t.keyID)
        } else {
            try begin(file, reserving: file.size, multipart: false)
            let t = transfer!
            // The file's digest is the PUT's payload hash: no second pass over it.
            let etag = try context.store.putObject(key: file.key, body: .digestedBytes(pending, sha256: sha256),
                                                   contentType: file.contentType, sse: t.sse)
            pending = []
            record = makeRecord(file, sha256: sha256, etag: etag, keyID: t.keyID)
        }
        try commit(record, workflowName: file.workflow?.name)
        return record
    }

    /// Gives back whatever this upload holds; call on any failure.
    func abandon() {
        scan?.cancel()
        guard let t = transfer else { return }
        transfer = nil
        if let uploadID = t.uploadID { try? context.store.abortMultipartUpload(key: t.file.key, uploadID: uploadID) }
        cleanup.abandon(reservationID: t.reservationID, key: t.file.key, requestID: requestID)
    }

    private func begin(_ file: IncomingFile, reserving bytes: Int64, multipart: Bool) throws {
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
        transfer = Transfer(file: file, reservationID: reservationID, keyID: keyID, sse: sse)
        guard multipart else { return }
        let uploadID = try context.store.createMultipartUpload(key: file.key, contentType: file.contentType, sse: sse)
        transfer?.uploadID = uploadID
        try context.metadata.attachUpload(reservationID: reservationID, uploadID: uploadID)
    }

    private func makeRecord(_ file: IncomingFile, sha256: String, etag: String, keyID: String) -> StoredFile {
        let uploadedAt = context.clock.seconds
        return StoredFile(id: UUIDs.random(), organizationID: identity.organizationID, userID: identity.userID,
                          objectKey: file.key, objectName: file.objectName, originalFilename: file.originalFilename,
                          size: received, contentType: file.contentType, category: file.category, sha256: sha256,
                          etag: Self.bareETag(etag), keyID: keyID, uploadedAt: uploadedAt, bucket: context.store.bucket,
                          workflowID: file.workflow?.id, runID: file.workflow?.run, direction: file.workflow?.direction,
                          expiresAt: file.expiresIn.map { uploadedAt + $0 })
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
        case .memberQuotaExceeded(let available):
            return APIError(413, "member_quota_exceeded", "Your share of the organization's quota is used up (\(available) bytes available to you).")
        }
    }

    static func bareETag(_ etag: String) -> String {
        etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}
