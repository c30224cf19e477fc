import Foundation

/// A content type a client declared, reduced to something safe to store and
/// send back: `type/subtype` tokens only, otherwise a guess from the name.
public enum ContentTypes {
    public static func normalize(declared: String?, filename: String) -> String {
        if let declared {
            let main = declared.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            let parts = main.split(separator: "/")
            let tokenChars = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")
            if parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(tokenChars.contains) }),
               main != "application/octet-stream" {
                return main
            }
        }
        // The extension follows the last dot; a name without a dot ("pdf") or
        // a dotfile (".png") has none, as for object keys.
        guard let dot = filename.lastIndex(of: "."), dot != filename.startIndex else { return "application/octet-stream" }
        return byExtension[filename[filename.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }

    static let byExtension: [String: String] = [
        "txt": "text/plain", "csv": "text/csv", "json": "application/json", "pdf": "application/pdf",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
        "svg": "image/svg+xml", "html": "text/html", "htm": "text/html", "xml": "application/xml",
        "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
        "mp3": "audio/mpeg", "mp4": "video/mp4", "wav": "audio/wav", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "parquet": "application/vnd.apache.parquet",
    ]
}
