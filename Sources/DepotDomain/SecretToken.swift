import DepotCrypto
import DepotEncoding

/// The token of a signed upload link: base64url of the link's id (16 bytes)
/// and a 32-byte random secret, 64 characters, opaque to its holder. The
/// database keeps only SHA-256(secret); a presented token is found by its id
/// and its secret's hash compared in constant time.
public struct UploadLinkToken: Equatable {
    public let linkID: String
    public let secret: [UInt8]

    /// A new token for a new link.
    public static func generate() -> UploadLinkToken {
        UploadLinkToken(linkID: UUIDs.random(), secret: SecureRandom.bytes(32))
    }

    public init(linkID: String, secret: [UInt8]) {
        self.linkID = linkID
        self.secret = secret
    }

    /// nil for anything that is not exactly a token's shape.
    public init?(_ text: String) {
        guard text.utf8.count == 64, let bytes = Base64URL.decode(text), bytes.count == 48 else { return nil }
        let hex = Hex.encode(bytes.prefix(16))
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        linkID = parts.joined(separator: "-")
        secret = Array(bytes.suffix(32))
    }

    public var text: String {
        Base64URL.encode((Hex.decode(linkID.replacingOccurrences(of: "-", with: "")) ?? []) + secret)
    }

    public var secretHash: [UInt8] { DigestHasher.hash(.sha256, secret) }

    /// Whether this token's secret is the one `hash` was made from (constant time).
    public func matches(secretHash hash: [UInt8]) -> Bool {
        constantTimeEquals(secretHash, hash)
    }
}
