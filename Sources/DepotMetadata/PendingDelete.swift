/// A store object that no record claims any more and that the store has not
/// yet confirmed deleted (a deleted file, a failed or reclaimed upload).
public struct PendingDelete: Equatable {
    public var objectKey: String
    public var uploadID: String?
    public var reason: String
    public var createdAt: Int64
    public var attempts: Int64

    public init(objectKey: String, uploadID: String?, reason: String, createdAt: Int64, attempts: Int64) {
        self.objectKey = objectKey
        self.uploadID = uploadID
        self.reason = reason
        self.createdAt = createdAt
        self.attempts = attempts
    }
}
