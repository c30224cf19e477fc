import DepotCrypto
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

/// One `PATCH` (or a creation's first bytes) of a resumable upload: the
/// request's body appended to the upload's bytes, made durable as it goes.
///
/// Invariants: the upload's offset in the database only ever names bytes
/// the store holds, in the multipart upload's recorded parts or in the
/// staging object; the hash state saved with an offset covers exactly the
/// bytes before it. Hence reads never go past the part being sent: the
/// hasher sees each byte once, in order, as the store receives it.
///
/// The body goes out in parts of `part_size` while it arrives (streamed,
/// each pulled from the client's body as the store takes it), every part
/// recorded as it completes, so an interrupted `PATCH` keeps what reached
/// whole parts. What is left at the end, under the store's 5 MiB minimum
/// part, is written as the staging object (with the previous staged bytes
/// in front of it) unless the upload is complete, when it is the last
/// part. A `PATCH` with `Upload-Checksum` records nothing until the digest
/// of its whole body matched: parts it sent are overwritten by the next try.
final class ResumablePatch: StoreBodySource {
    /// S3's smallest part but the last.
    static let minimumPart: Int64 = 5 << 20

    private let context: ServiceContext
    private var upload: ResumableUpload
    private let owner: String
    private let leaseSeconds: Int64
    private let sse: SSECustomerKey
    private let body: RequestBodyReader
    private var bodyLeft: Int64
    private var hash: ResumableSHA256
    private let checksum: (hasher: DigestHasher, expected: [UInt8])?
    /// Staged bytes still to go in front of the body's.
    private var tail: [UInt8] = []
    private var tailSent = 0
    /// Bytes received and hashed: `upload.offset` plus what was read.
    private var received: Int64
    private var stagedKey: String?
    private var unrecordedParts: [ResumableUploadPart] = []
    private var partLeft: Int64 = 0
    private var partDelivered: Int64 = 0
    /// When the lock's lease was last extended: a slow part renews it, so a
    /// node that cannot see this process (another host) never takes over a
    /// PATCH that is still moving.
    private var leaseRenewedAt: Int64

    init(context: ServiceContext, upload: ResumableUpload, owner: String, leaseSeconds: Int64, sse: SSECustomerKey,
         body: RequestBodyReader, bodyLength: Int64, checksum: (DigestHasher, [UInt8])?) throws {
        self.context = context
        self.upload = upload
        self.owner = owner
        self.leaseSeconds = leaseSeconds
        self.sse = sse
        self.body = body
        bodyLeft = bodyLength
        self.checksum = checksum.map { (hasher: $0.0, expected: $0.1) }
        // (A new upload's state is that of an empty SHA-256.)
        guard let hash = ResumableSHA256(state: upload.hashState) else {
            throw APIError.internalError
        }
        self.hash = hash
        received = upload.offset
        stagedKey = upload.stagedKey
        leaseRenewedAt = context.clock.seconds
    }

    private var available: Int64 { Int64(tail.count - tailSent) + bodyLeft }

    /// Appends the whole body. Returns with the upload as recorded; the
    /// caller completes it when its offset reached its length.
    func run() throws -> ResumableUpload {
        guard bodyLeft > 0 else { return upload }
        if let staged = upload.stagedKey {
            let expected = Int(upload.offset - upload.partsBytes)
            guard let bytes = try context.store.getObject(key: staged, sse: sse, maxBytes: Int(Self.minimumPart)),
                  bytes.count == expected else {
                throw APIError.unavailable("upload_storage_inconsistent", "The upload's stored bytes could not be read back; retry shortly.")
            }
            tail = bytes
        }
        let final = upload.offset + bodyLeft == upload.length
        let partSize = max(context.config.partSize, Self.minimumPart)
        while available > partSize || (available == partSize && !final) {
            try sendPart(partSize)
        }
        if available >= Self.minimumPart || (final && available > 0) {
            try sendPart(available)
        } else if available > 0 {
            try stage()
        }
        if let checksum {
            guard checksum.hasher.finalize() == checksum.expected else {
                if let stagedKey, stagedKey != upload.stagedKey { try? context.store.deleteObject(key: stagedKey) }
                context.metrics.add(.checksumMismatches)
                throw APIError(460, "checksum_mismatch", "The chunk does not match its Upload-Checksum; it was discarded.")
            }
        }
        try record()
        return upload
    }

    private func sendPart(_ length: Int64) throws {
        let number = upload.partCount + unrecordedParts.count + 1
        partLeft = length
        partDelivered = 0
        let etag = try context.store.uploadPart(key: upload.objectKey, uploadID: upload.storeUploadID, partNumber: number,
                                                body: .stream(self, length: length), sse: sse)
        guard partLeft == 0 else { throw StoreError.unavailable("the store took a part before its end") }
        unrecordedParts.append(ResumableUploadPart(number: number, etag: FileIngest.bareETag(etag), size: length))
        // The staged bytes went into this part: the staging object is spent.
        if tailSent == tail.count { stagedKey = nil }
        if checksum == nil { try record() }
    }

    /// The bytes left, under a part's minimum, kept as the new staging object.
    private func stage() throws {
        var bytes = Array(tail[tailSent...])
        tailSent = tail.count
        bytes.reserveCapacity(bytes.count + Int(bodyLeft))
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { chunk.deallocate() }
        while bodyLeft > 0 {
            let n = try readBody(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<Int(min(Int64(chunk.count), bodyLeft))]))
            bytes.append(contentsOf: chunk[0..<n])
        }
        let key = ObjectKeys.resumableStagingKey(organizationID: upload.organizationID, uploadID: upload.id, offset: received)
        _ = try context.store.putObject(key: key, body: .bytes(bytes), contentType: "application/octet-stream", sse: sse)
        stagedKey = key
    }

    /// Saves what is durable now: the parts sent, the staging object, the
    /// hash state, under the lock (renewed).
    private func record() throws {
        let partsEnd = upload.partsBytes + unrecordedParts.reduce(0) { $0 + $1.size }
        let offset = stagedKey == nil ? partsEnd : received
        guard offset != upload.offset || !unrecordedParts.isEmpty || stagedKey != upload.stagedKey else { return }
        let now = context.clock.seconds
        let progress = ResumableUploadProgress(offset: offset, newParts: unrecordedParts, stagedKey: stagedKey,
                                               hashState: hash.state, head: upload.head)
        guard try context.metadata.recordResumableProgress(id: upload.id, owner: owner, progress: progress,
                                                           lockUntil: now + leaseSeconds, now: now) else {
            throw APIError(409, "upload_locked", "Another request took over this upload.")
        }
        leaseRenewedAt = now
        if let old = upload.stagedKey, old != stagedKey {
            try? context.store.deleteObject(key: old)
            try? context.metadata.completePendingDelete(objectKey: old)
        }
        upload.offset = offset
        upload.partsBytes = partsEnd
        upload.partCount += unrecordedParts.count
        upload.stagedKey = stagedKey
        upload.hashState = hash.state
        unrecordedParts = []
    }

    /// Reads the client's body into `buffer`, hashing what arrives; a body
    /// that ends early is an error (the client went away).
    private func readBody(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try body.read(into: buffer)
        guard n > 0 else { throw RequestBodyReader.Failure.unreadable }
        let now = context.clock.seconds
        if now - leaseRenewedAt >= leaseSeconds / 4 {
            guard try context.metadata.renewResumableUploadLock(id: upload.id, owner: owner, until: now + leaseSeconds) else {
                throw APIError(409, "upload_locked", "Another request took over this upload.")
            }
            leaseRenewedAt = now
        }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        if received < 64 { upload.head.append(contentsOf: bytes.prefix(Int(64 - received))) }
        hash.update(bytes)
        checksum?.hasher.update(bytes)
        received += Int64(n)
        bodyLeft -= Int64(n)
        return n
    }

    /// The store client's pull (`StoreBodySource`): the staged bytes first,
    /// then the body, never past the part's end. A part cannot be sent again
    /// from its start (its bytes were not kept).
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset == partDelivered else { throw StoreError.unavailable("a streamed part cannot be sent again") }
        let room = Int(min(Int64(buffer.count), partLeft))
        guard room > 0 else { return 0 }
        let n: Int
        if tailSent < tail.count {
            n = min(room, tail.count - tailSent)
            tail.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + tailSent, byteCount: n) }
            tailSent += n
        } else {
            n = try readBody(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<room]))
        }
        partDelivered += Int64(n)
        partLeft -= Int64(n)
        return n
    }
}
