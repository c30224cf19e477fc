/// Room held for one upload in flight: counted against the quota until it is
/// committed as a file or released. The owner (worker pid and start time)
/// lets the clean-up pass reclaim it when that worker is gone.
public struct Reservation: Equatable {
    public var id: String
    public var organizationID: String
    public var userID: String
    public var bytes: Int64
    public var objectKey: String
    /// The store's multipart upload id, once one was started.
    public var uploadID: String?
    public var ownerPID: Int32
    public var ownerStart: String
    public var createdAt: Int64
    public var expiresAt: Int64

    public init(id: String, organizationID: String, userID: String, bytes: Int64, objectKey: String, uploadID: String?,
                ownerPID: Int32, ownerStart: String, createdAt: Int64, expiresAt: Int64) {
        self.id = id
        self.organizationID = organizationID
        self.userID = userID
        self.bytes = bytes
        self.objectKey = objectKey
        self.uploadID = uploadID
        self.ownerPID = ownerPID
        self.ownerStart = ownerStart
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}
