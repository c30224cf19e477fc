import DepotDomain

/// Mints HS256 tokens with the deployment's own secret, carrying the claims
/// the verifier checks (`iss`, `aud` and `kid` when configured): what
/// `depotctl token issue` prints and what a one-time console login hands
/// out. Deployments that verify only ES256/RS256 tokens from an identity
/// provider have no issuer.
public struct TokenIssuer: Sendable {
    private let secret: [UInt8]
    private let keyID: String?
    private let issuer: String?
    private let audience: String?

    /// nil when no HS256 key is configured.
    public init?(configuration: JWTVerifierConfiguration) {
        guard let key = configuration.keys.first(where: { $0.algorithm == .hs256 }), case .secret(let secret) = key.material else {
            return nil
        }
        self.secret = secret
        self.keyID = key.id
        self.issuer = configuration.issuer
        self.audience = configuration.audience
    }

    /// A token for `userID` in `organizationID`, valid from `issuedAt` for
    /// `lifetime` seconds.
    public func issue(userID: String, organizationID: String, role: Role, accountType: AccountKind?,
                      issuedAt: Int64, lifetime: Int64) -> String {
        var claims: [String: Any] = [
            "sub": userID, "org": organizationID, "role": role.rawValue,
            "iat": Int(issuedAt), "exp": Int(issuedAt + lifetime),
        ]
        if let issuer { claims["iss"] = issuer }
        if let audience { claims["aud"] = audience }
        if let accountType { claims["acct"] = accountType.rawValue }
        return JWTSigner.hs256(secret: secret, claims: claims, keyID: keyID)
    }
}
