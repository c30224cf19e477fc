import DepotCrypto
import DepotHTTP
import Foundation

/// The tus 1.0.0 headers Depot speaks (https://tus.io/protocols/resumable-upload):
/// the version, the extensions, the CORS lists; the request headers are
/// parsed by `TusHeaders` (DepotHTTP).
enum TusProtocol {
    static let version = "1.0.0"
    static let extensions = "creation,creation-with-upload,termination,expiration,checksum"
    static let checksumAlgorithms = "sha1,sha256"
    static let chunkContentType = "application/offset+octet-stream"
    /// The headers a browser client may read from a tus answer (CORS).
    static let exposedHeaders = "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable, "
        + "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Depot-File-Id"
    /// The request headers a browser client may send (CORS preflight).
    static let allowedRequestHeaders = "Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Offset, "
        + "Upload-Metadata, Upload-Checksum, Upload-Defer-Length"

    static var versionHeaders: [(String, String)] { [("Tus-Resumable", version)] }

    /// `412` for a request without `Tus-Resumable: 1.0.0`.
    static func requireVersion(_ request: HTTPRequest) throws {
        guard request.headers["tus-resumable"] == version else {
            throw APIError(412, "unsupported_tus_version", "Tus-Resumable: \(version) is required.",
                           headers: [("Tus-Version", version)])
        }
    }

    /// `Upload-Checksum` (see `TusHeaders.checksum`) → a hasher and the digest it must reach.
    static func checksum(_ header: String?) throws -> (DigestHasher, [UInt8])? {
        guard let (algorithm, digest) = try TusHeaders.checksum(header) else { return nil }
        return (DigestHasher(algorithm == "sha1" ? .sha1 : .sha256), digest)
    }

    /// RFC 9110 date for `Upload-Expires`.
    static func httpDate(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
