import DepotDomain

/// A signed download link `presigned-url` handed out, recorded so its owner
/// can list and revoke it. Only the SHA-256 of the link's signature is kept:
/// the database alone never yields a working URL.
public struct DownloadLink: Equatable {
    public var id: String
    public var organizationID: String
    public var userID: String
    public var objectKey: String
    public var disposition: Disposition
    /// Lowercase hex SHA-256 of the URL's base64url `signature`.
    public var signatureDigest: String
    public var createdAt: Int64
    public var expiresAt: Int64

    public init(id: String, organizationID: String, userID: String, objectKey: String, disposition: Disposition,
                signatureDigest: String, createdAt: Int64, expiresAt: Int64) {
        self.id = id
        self.organizationID = organizationID
        self.userID = userID
        self.objectKey = objectKey
        self.disposition = disposition
        self.signatureDigest = signatureDigest
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}
