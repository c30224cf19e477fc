import DepotDomain

/// Who a verified token speaks for. Ids are canonical lowercase UUID strings.
public struct Identity: Equatable, Sendable {
    public let userID: String
    public let organizationID: String
    public let role: Role
    public let accountType: AccountKind?
    /// The token's `exp`, in Unix seconds (rounded down if fractional).
    public let expiresAt: Int64

    public init(userID: String, organizationID: String, role: Role, accountType: AccountKind?, expiresAt: Int64) {
        self.userID = userID
        self.organizationID = organizationID
        self.role = role
        self.accountType = accountType
        self.expiresAt = expiresAt
    }

    /// True when the caller administers their organization.
    public var isAdmin: Bool { role == .admin }
}
