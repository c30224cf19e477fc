import Foundation

/// One file record: what the API calls `File`.
public struct StoredFile: Equatable {
    public var id: String
    public var organizationID: String
    public var userID: String
    public var objectKey: String
    public var objectName: String
    public var originalFilename: String
    public var size: Int64
    public var contentType: String
    public var category: FileCategory
    public var sha256: String
    public var etag: String
    public var keyID: String
    public var uploadedAt: Int64
    public var bucket: String
    public var workflowID: String?
    public var runID: String?
    public var direction: ObjectKeys.Direction?
    /// When the periodic clean-up deletes the file (unix seconds); nil: never.
    public var expiresAt: Int64?
    /// Whether the owner shared it with anyone (read with the record, never stored in it).
    public var shared: Bool

    public init(id: String, organizationID: String, userID: String, objectKey: String, objectName: String,
                originalFilename: String, size: Int64, contentType: String, category: FileCategory, sha256: String,
                etag: String, keyID: String, uploadedAt: Int64, bucket: String,
                workflowID: String? = nil, runID: String? = nil, direction: ObjectKeys.Direction? = nil, expiresAt: Int64? = nil, shared: Bool = false) {
        self.id = id
        self.organizationID = organizationID
        self.userID = userID
        self.objectKey = objectKey
        self.objectName = objectName
        self.originalFilename = originalFilename
        self.size = size
        self.contentType = contentType
        self.category = category
        self.sha256 = sha256
        self.etag = etag
        self.keyID = keyID
        self.uploadedAt = uploadedAt
        self.bucket = bucket
        self.workflowID = workflowID
        self.runID = runID
        self.direction = direction
        self.expiresAt = expiresAt
        self.shared = shared
    }
}
