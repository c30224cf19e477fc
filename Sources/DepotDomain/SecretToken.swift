import DepotCrypto
import DepotEncoding

/// An opaque bearer secret naming one database row: base64url of the row's
/// id (16 bytes) and a 32-byte random secret, 64 characters. Signed upload
/// links and one-time console logins are made of it. The database keeps only
/// SHA-256(secret); a presented token is found by its id and its secret's
/// hash compared in constant time.
public struct SecretToken: Equatable {
    public let id: String
    public let secret: [UInt8]

    /// A new token for a new row.
    public static func generate() -> SecretToken {
        SecretToken(id: UUIDs.random(), secret: SecureRandom.bytes(32))
    }

    public init(id: String, secret: [UInt8]) {
        self.id = id
        self.secret = secret
    }

    /// nil for anything that is not exactly a token's shape.
    public init?(_ text: String) {
        guard text.utf8.count == 64, let bytes = Base64URL.decode(text), bytes.count == 48 else { return nil }
        let hex = Hex.encode(bytes.prefix(16))
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        id = parts.joined(separator: "-")
        secret = Array(bytes.suffix(32))
    }

    public var text: String {
        Base64URL.encode((Hex.decode(id.replacingOccurrences(of: "-", with: "")) ?? []) + secret)
    }

    public var secretHash: [UInt8] { DigestHasher.hash(.sha256, secret) }

    /// Whether this token's secret is the one `hash` was made from (constant time).
    public func matches(secretHash hash: [UInt8]) -> Bool {
        constantTimeEquals(secretHash, hash)
    }
}
