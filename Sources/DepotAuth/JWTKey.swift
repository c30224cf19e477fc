import DepotCrypto

/// One verification key: an HMAC secret for HS256, or a public key for
/// ES256 (EC P-256) or RS256 (RSA).
public struct JWTKey: Sendable {
    enum Material: Sendable {
        case secret([UInt8])
        case publicKey(PublicKey)
    }

    /// Matched exactly against a token's `kid` header.
    public let id: String?
    public let algorithm: JWTAlgorithm
    let material: Material

    public init(id: String?, algorithm: JWTAlgorithm, hmacSecret: [UInt8]) {
        self.id = id
        self.algorithm = algorithm
        self.material = .secret(hmacSecret)
    }

    public init(id: String?, algorithm: JWTAlgorithm, publicKey: PublicKey) {
        self.id = id
        self.algorithm = algorithm
        self.material = .publicKey(publicKey)
    }

    /// Loads an ES256 or RS256 key from PEM; the algorithm follows the key type.
    public init(id: String?, publicKeyPEM: String) throws {
        let key = try PublicKey(pem: publicKeyPEM)
        self.init(id: id, algorithm: key.kind == .ec256 ? .es256 : .rs256, publicKey: key)
    }

    /// Why this key can never verify a token (or is too weak), nil if usable.
    public var problem: String? {
        switch (algorithm, material) {
        case (.hs256, .secret(let secret)):
            if secret.isEmpty { return "HS256 secret is empty" }
            if secret.count < 32 { return "HS256 secret shorter than 32 bytes" }
            return nil
        case (.es256, .publicKey(let key)):
            return key.kind == .ec256 ? nil : "ES256 key is not an EC P-256 key"
        case (.rs256, .publicKey(let key)):
            return key.kind == .rsa ? nil : "RS256 key is not an RSA key"
        case (.hs256, .publicKey):
            return "HS256 needs a shared secret, not a public key"
        case (_, .secret):
            return "\(algorithm.rawValue) needs a public key, not a shared secret"
        }
    }

    /// Checks `signature` over `signingInput` with this key. A key whose
    /// material does not fit its algorithm never verifies anything.
    func verifies(signingInput: [UInt8], signature: [UInt8]) -> Bool {
        switch (algorithm, material) {
        case (.hs256, .secret(let secret)):
            return HMAC.verifySHA256(key: secret, message: signingInput, mac: signature)
        case (.es256, .publicKey(let key)):
            return key.verifyES256(message: signingInput, rawSignature: signature)
        case (.rs256, .publicKey(let key)):
            return key.verifyRS256(message: signingInput, signature: signature)
        default:
            return false
        }
    }
}
