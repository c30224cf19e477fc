import DepotEncoding
import Foundation

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
