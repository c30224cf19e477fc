/// One file shared by its owner (or an organization admin) with one member
/// of the same organization, or with the whole organization.
public struct Share: Equatable {
    public var id: String
    public var organizationID: String
    public var objectKey: String
    /// The file's owner, who keeps every right; the grantee may only read.
    public var ownerID: String
    /// The member it is shared with; nil: every member of the organization.
    public var granteeUserID: String?
    public var createdBy: String
    public var createdAt: Int64

    public init(id: String, organizationID: String, objectKey: String, ownerID: String, granteeUserID: String?,
                createdBy: String, createdAt: Int64) {
        self.id = id
        self.organizationID = organizationID
        self.objectKey = objectKey
        self.ownerID = ownerID
        self.granteeUserID = granteeUserID
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// What `createShare` did.
public enum ShareCreation: Equatable {
    case created(Share)
    /// The same grant already existed; it is returned unchanged.
    case existing(Share)
    /// The file is gone (deleted meanwhile).
    case noFile
    /// The grantee is not a member of the file's organization.
    case unknownGrantee
}
