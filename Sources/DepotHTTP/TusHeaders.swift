import Foundation

/// Strict parsing of the tus 1.0.0 request headers clients send
/// (https://tus.io/protocols/resumable-upload): what is malformed is a `400`.
public enum TusHeaders {
    /// The most `Upload-Metadata` may be: a few names and short values.
    public static let maxMetadataBytes = 4096

    /// A non-negative decimal integer header (digits only, at most 18 of
    /// them); nil when absent, `400` when anything else.
    public static func integer(_ request: HTTPRequest, _ name: String) throws -> Int64? {
        guard let text = request.headers[name] else { return nil }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 18, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int64(text) else {
            throw APIError.badRequest("\(name) must be a non-negative integer.", code: "invalid_header")
        }
        return value
    }

    /// `Upload-Metadata`: comma-separated `key base64value` pairs (the value
    /// may be absent). Keys are unique printable ASCII; values decode to
    /// printable UTF-8 text.
    public static func metadata(_ header: String?) throws -> [String: String] {
        guard let header, !header.isEmpty else { return [:] }
        guard header.utf8.count <= maxMetadataBytes else {
            throw APIError.badRequest("Upload-Metadata is longer than \(maxMetadataBytes) bytes.", code: "invalid_metadata")
        }
        var out: [String: String] = [:]
        for pair in header.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = pair.trimmingCharacters(in: .whitespaces)
            let pieces = trimmed.split(separator: " ", omittingEmptySubsequences: false)
            guard (1...2).contains(pieces.count), let key = pieces.first, !key.isEmpty,
                  key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw APIError.badRequest("Upload-Metadata must be comma-separated `key base64value` pairs.", code: "invalid_metadata")
            }
            guard out[String(key)] == nil else {
                throw APIError.badRequest("Upload-Metadata repeats the key \(key).", code: "invalid_metadata")
            }
            var value = ""
            if pieces.count == 2 {
                guard let data = Data(base64Encoded: String(pieces[1])), let text = String(data: data, encoding: .utf8),
                      !text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }) else {
                    throw APIError.badRequest("The Upload-Metadata value of \(key) is not base64 of printable UTF-8.", code: "invalid_metadata")
                }
                value = text
            }
            out[String(key)] = value
        }
        return out
    }

    /// `Upload-Checksum: <algorithm> <base64 digest>` → the algorithm's name
    /// (`sha1`, `sha256`) and the digest, whose length must be the algorithm's.
    public static func checksum(_ header: String?) throws -> (algorithm: String, digest: [UInt8])? {
        guard let header else { return nil }
        let pieces = header.split(separator: " ", omittingEmptySubsequences: false)
        guard pieces.count == 2 else {
            throw APIError.badRequest("Upload-Checksum must be `<algorithm> <base64 digest>`.", code: "invalid_checksum")
        }
        let length: Int
        switch pieces[0] {
        case "sha1": length = 20
        case "sha256": length = 32
        default: throw APIError.badRequest("Upload-Checksum supports sha1 and sha256.", code: "unsupported_checksum_algorithm")
        }
        guard let digest = Data(base64Encoded: String(pieces[1])), digest.count == length else {
            throw APIError.badRequest("The Upload-Checksum digest is not base64 of a \(pieces[0]) digest.", code: "invalid_checksum")
        }
        return (String(pieces[0]), Array(digest))
    }
}
