import DepotCrypto
import DepotEncoding
import Foundation

public enum Disposition: String { case attachment, inline }

/// Download headers built from Depot's own record, never from the store.
public enum DownloadHeaders {
    /// Types a browser cannot run script from; only these may be shown inline.
    public static func isInlineSafe(contentType: String) -> Bool {
        let t = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if t == "image/svg+xml" { return false }
        if t.hasPrefix("image/") || t.hasPrefix("audio/") || t.hasPrefix("video/") { return true }
        return t == "application/pdf" || t == "text/plain"
    }

    /// RFC 6266 header: an ASCII fallback in `filename=` and the exact name in
    /// `filename*=UTF-8''…` (RFC 8187). Nothing header-breaking survives.
    public static func contentDisposition(_ disposition: Disposition, filename: String) -> String {
        var fallback = ""
        for scalar in filename.unicodeScalars {
            switch scalar {
            // `%` too: some user agents percent-decode `filename=` (RFC 6266, appendix D).
            case "\"", "\\", "%": fallback.append("_")
            default:
                if scalar.isASCII && scalar.value >= 0x20 && scalar.value < 0x7f {
                    fallback.unicodeScalars.append(scalar)
                } else {
                    fallback.append("_")
                }
            }
        }
        if fallback.isEmpty { fallback = "download" }
        let encoded = PercentEncoding.encode(filename, allowing: .attrChar)
        return "\(disposition.rawValue); filename=\"\(fallback)\"; filename*=UTF-8''\(encoded)"
    }
}

/// Depot's own expiring download links: HMAC-SHA256 over key, disposition and
/// expiry with a server secret, checked in constant time.
public struct DownloadLinkSigner {
    private let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    public func signature(objectKey: String, disposition: Disposition, expires: Int64) -> String {
        let message = "depot-download-v1\n\(objectKey)\n\(disposition.rawValue)\n\(expires)"
        return Base64URL.encode(HMAC.sha256(key: secret, message: Array(message.utf8)))
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
