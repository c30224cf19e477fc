import DepotDomain

/// A signed upload link: lets whoever holds its token upload one file as
/// the user who made it, bound to a category and a size. Only the SHA-256 of
/// the token's secret is kept, so the database cannot give a usable token away.
public struct UploadLink: Equatable {
    public var id: String
    public var organizationID: String
    public var userID: String
    public var category: FileCategory?
    public var maxSize: Int64
    public var secretHash: [UInt8]
    public var createdAt: Int64
    public var expiresAt: Int64
    /// When an upload took the link (nil: unused).
    public var usedAt: Int64?
    public var revokedAt: Int64?

    public init(id: String, organizationID: String, userID: String, category: FileCategory?, maxSize: Int64, secretHash: [UInt8],
                createdAt: Int64, expiresAt: Int64, usedAt: Int64?, revokedAt: Int64?) {
        self.id = id
        self.organizationID = organizationID
        self.userID = userID
        self.category = category
        self.maxSize = maxSize
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.revokedAt = revokedAt
    }
}

/// What revoking a link found.
public enum UploadLinkRevocation: Equatable {
    case revoked
    /// An upload already took it.
    case used
    /// No such link among the caller's (or revoked before).
    case missing
}
