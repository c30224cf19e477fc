import Foundation

public struct StoreObjectInfo {
    public let key: String
    public let size: Int64
    /// Without surrounding quotes. SeaweedFS: the plaintext MD5 hex, also for SSE-C;
    /// multipart objects: "<hex>-<part count>".
    public let etag: String
    /// When the store last wrote the object; nil when the store gave no date
    /// or one that does not parse. Fails closed: an undated object is never
    /// "older" than anything, so whoever deletes by age (gc, fsck --repair)
    /// must keep what it cannot date (`isOlder(than:)` says so).
    public let lastModified: Date?
    /// Known from HEAD; nil in listings.
    public let contentType: String?

    public init(key: String, size: Int64, etag: String, lastModified: Date?, contentType: String?) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.contentType = contentType
    }

    /// True only when the object has a date and it is before `limit`; an
    /// undated object is never old enough to delete.
    public func isOlder(than limit: Date) -> Bool {
        guard let lastModified else { return false }
        return lastModified < limit
    }
}
