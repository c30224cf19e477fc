/// What an offboarding removed (or, in a dry run, would remove). The store
/// objects in `queuedDeletes` are pending deletes once it is applied: the
/// caller deletes them at the store, and whatever the store refuses is left
/// to the next clean-up pass.
public struct OffboardingReport: Equatable {
    public var files: Int64 = 0
    public var bytes: Int64 = 0
    public var shares: Int64 = 0
    public var downloadLinks: Int64 = 0
    public var uploadLinks: Int64 = 0
    /// Unredeemed one-time console logins.
    public var consoleLogins: Int64 = 0
    public var resumableUploads: Int64 = 0
    /// Live reservations released (those of the resumable uploads included).
    public var reservations: Int64 = 0
    public var reservedBytes: Int64 = 0
    /// User records removed.
    public var users: Int64 = 0
    /// Every store object to delete: the files' objects, released
    /// reservations' objects (with their multipart upload) and staging objects.
    public var queuedDeletes: [(key: String, uploadID: String?)] = []

    public init() {}

    public static func == (a: OffboardingReport, b: OffboardingReport) -> Bool {
        a.files == b.files && a.bytes == b.bytes && a.shares == b.shares && a.downloadLinks == b.downloadLinks
            && a.uploadLinks == b.uploadLinks && a.consoleLogins == b.consoleLogins && a.resumableUploads == b.resumableUploads && a.reservations == b.reservations
            && a.reservedBytes == b.reservedBytes && a.users == b.users
            && a.queuedDeletes.map(\.key) == b.queuedDeletes.map(\.key) && a.queuedDeletes.map(\.uploadID) == b.queuedDeletes.map(\.uploadID)
    }
}
