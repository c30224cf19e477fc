import DepotDomain

/// A tus upload in progress (or done, until it expires): the file it will
/// become, how far its bytes have come, and where they are. Its quota is a
/// reservation held as a lease until `expiresAt`, not by a worker: it
/// outlives the requests that feed it.
///
/// The bytes up to `offset` are durable: `partsBytes` of them in the store's
/// multipart upload as numbered parts, the rest (less than the store's 5 MiB
/// minimum part) in the staging object `stagedKey`. `hashState` is the
/// SHA-256 state over those same bytes.
public struct ResumableUpload: Equatable {
    public var id: String
    public var organizationID: String
    public var userID: String
    public var reservationID: String
    public var objectKey: String
    public var objectName: String
    public var originalFilename: String
    public var contentType: String
    public var category: FileCategory
    public var workflowID: String?
    public var runID: String?
    public var direction: String?
    public var workflowName: String?
    /// The client's `Upload-Metadata`, as sent (shown back by `GET`).
    public var metadataHeader: String
    public var length: Int64
    public var offset: Int64
    public var storeUploadID: String
    /// The master key the object's SSE-C key derives from.
    public var keyID: String
    public var partsBytes: Int64
    public var partCount: Int
    public var stagedKey: String?
    public var hashState: [UInt8]
    /// The file's first bytes (up to 64), for type sniffing at completion.
    public var head: [UInt8]
    public var createdAt: Int64
    public var expiresAt: Int64
    /// The file record it became, once complete.
    public var fileID: String?
    /// The client's `expires_in`: the file expires this long after it completes.
    public var fileExpiresIn: Int64?

    public init(id: String, organizationID: String, userID: String, reservationID: String, objectKey: String,
                objectName: String, originalFilename: String, contentType: String, category: FileCategory,
                workflowID: String?, runID: String?, direction: String?, workflowName: String?, metadataHeader: String,
                length: Int64, offset: Int64, storeUploadID: String, keyID: String, partsBytes: Int64, partCount: Int,
                stagedKey: String?, hashState: [UInt8], head: [UInt8], createdAt: Int64, expiresAt: Int64, fileID: String?,
                fileExpiresIn: Int64? = nil) {
        self.id = id
        self.organizationID = organizationID
        self.userID = userID
        self.reservationID = reservationID
        self.objectKey = objectKey
        self.objectName = objectName
        self.originalFilename = originalFilename
        self.contentType = contentType
        self.category = category
        self.workflowID = workflowID
        self.runID = runID
        self.direction = direction
        self.workflowName = workflowName
        self.metadataHeader = metadataHeader
        self.length = length
        self.offset = offset
        self.storeUploadID = storeUploadID
        self.keyID = keyID
        self.partsBytes = partsBytes
        self.partCount = partCount
        self.stagedKey = stagedKey
        self.hashState = hashState
        self.head = head
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.fileID = fileID
        self.fileExpiresIn = fileExpiresIn
    }
}

/// One part of a resumable upload's multipart upload at the store.
public struct ResumableUploadPart: Equatable {
    public var number: Int
    public var etag: String
    public var size: Int64

    public init(number: Int, etag: String, size: Int64) {
        self.number = number
        self.etag = etag
        self.size = size
    }
}

/// How a `PATCH` moved an upload on: recorded in one transaction, so the
/// offset never names bytes that are not durable.
public struct ResumableUploadProgress {
    public var offset: Int64
    public var newParts: [ResumableUploadPart]
    /// The staging object holding the bytes past the parts; nil: none.
    public var stagedKey: String?
    public var hashState: [UInt8]
    public var head: [UInt8]

    public init(offset: Int64, newParts: [ResumableUploadPart], stagedKey: String?, hashState: [UInt8], head: [UInt8]) {
        self.offset = offset
        self.newParts = newParts
        self.stagedKey = stagedKey
        self.hashState = hashState
        self.head = head
    }
}

/// The answer to taking a resumable upload's write lock.
public enum ResumableUploadLock: Equatable {
    case locked(ResumableUpload)
    /// Another live request holds it.
    case busy
    case missing
}
