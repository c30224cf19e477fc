import DepotEncoding
import Foundation

public enum FileCategory: String, CaseIterable {
    case dataSource = "data_source"
    case profileImage = "profile_image"
    case general

    public static let profileImageMaxBytes: Int64 = 5 * 1024 * 1024
}

/// Judges a file by its first bytes, not its name or declared type.
public enum ImageSniffer {
    public static func imageType(_ head: [UInt8]) -> String? {
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if head.starts(with: Array("GIF87a".utf8)) || head.starts(with: Array("GIF89a".utf8)) { return "image/gif" }
        if head.count >= 12, head.starts(with: Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) { return "image/webp" }
        return nil
    }
}

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

public enum Timestamps {
    /// RFC 3339 in UTC with seconds precision: `2026-11-30T10:15:00Z`.
    public static func rfc3339(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        var out: [UInt8] = []
        out.reserveCapacity(20)
        DecimalDigits.append(Int(tm.tm_year) + 1900, width: 4, to: &out); out.append(UInt8(ascii: "-"))
        DecimalDigits.append(Int(tm.tm_mon) + 1, width: 2, to: &out); out.append(UInt8(ascii: "-"))
        DecimalDigits.append(Int(tm.tm_mday), width: 2, to: &out); out.append(UInt8(ascii: "T"))
        DecimalDigits.append(Int(tm.tm_hour), width: 2, to: &out); out.append(UInt8(ascii: ":"))
        DecimalDigits.append(Int(tm.tm_min), width: 2, to: &out); out.append(UInt8(ascii: ":"))
        DecimalDigits.append(Int(tm.tm_sec), width: 2, to: &out); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}
