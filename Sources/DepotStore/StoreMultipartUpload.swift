import Foundation

public struct StoreMultipartUpload {
    public let key: String
    public let uploadID: String
    /// When the upload began; nil when the store gave no parsable date (the
    /// upload is then never old enough to abort: see `wasInitiated(before:)`).
    public let initiated: Date?

    public init(key: String, uploadID: String, initiated: Date?) {
        self.key = key
        self.uploadID = uploadID
        self.initiated = initiated
    }

    /// True only when the upload has a date and it is before `limit`.
    public func wasInitiated(before limit: Date) -> Bool {
        guard let initiated else { return false }
        return initiated < limit
    }
}
