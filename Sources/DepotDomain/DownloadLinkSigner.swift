import DepotCrypto
import DepotEncoding
import Foundation

/// Depot's own expiring download links: HMAC-SHA256 over key, disposition and
/// expiry with a server secret, checked in constant time.
public struct DownloadLinkSigner {
    private let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    public func signature(objectKey: String, disposition: Disposition, expires: Int64) -> String {
        let message = "depot-download-v1\n\(objectKey)\n\(disposition.rawValue)\n\(expires)"
        return Base64URL.encode(HMAC.sha256(key: secret, message: Array(message.utf8)))
    }

    /// What the database keeps of a link: the lowercase hex SHA-256 of its
    /// base64url signature text, enough to find the link, never to rebuild it.
    public static func digest(signature: String) -> String {
        Hex.encode(DigestHasher.hash(.sha256, Array(signature.utf8)))
    }

    /// Only the exact text `signature(…)` produced is valid: the encoding is
    /// compared, not the decoded bytes, so no second spelling of a MAC
    /// (non-zero padding bits, `=`, the `+/` alphabet) is accepted.
    public func isValid(objectKey: String, disposition: Disposition, expires: Int64, signature: String, now: Int64) -> Bool {
        guard expires >= now else { return false }
        let expected = self.signature(objectKey: objectKey, disposition: disposition, expires: expires)
        /* constant time comparison */
        return constantTimeEquals(Array(signature.utf8), Array(expected.utf8))
    }
}
