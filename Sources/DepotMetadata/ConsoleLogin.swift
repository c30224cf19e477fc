import DepotDomain

/// A one-time console login that `depotctl token issue --console` made: its
/// code, redeemed once before `expiresAt`, gets a token for the user and role
/// it was made for. Only the SHA-256 of the code's secret is kept; the token
/// itself is minted at redemption and never stored.
public struct ConsoleLogin: Equatable {
    public var id: String
    public var organizationID: String
    public var userID: String
    /// `member` or `admin`: the `role` claim of the token it gives.
    public var role: String
    /// The `acct` claim, if one was asked for.
    public var accountType: AccountKind?
    /// How long the token it gives lives, in seconds.
    public var tokenLifetime: Int64
    public var secretHash: [UInt8]
    public var createdAt: Int64
    /// The code is refused from then on.
    public var expiresAt: Int64
    /// When the code was redeemed (nil: not yet).
    public var usedAt: Int64?

    public init(id: String, organizationID: String, userID: String, role: String, accountType: AccountKind?, tokenLifetime: Int64,
                secretHash: [UInt8], createdAt: Int64, expiresAt: Int64, usedAt: Int64?) {
        self.id = id
        self.organizationID = organizationID
        self.userID = userID
        self.role = role
        self.accountType = accountType
        self.tokenLifetime = tokenLifetime
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}
