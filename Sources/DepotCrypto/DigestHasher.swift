import CCrypto
import Foundation

/// The message digests Depot computes.
public enum DigestAlgorithm: Sendable {
    /// SHA-256: file checksums, SigV4 payload hashes.
    case sha256
    /// MD5 for S3's Content-MD5 and ETag comparisons only, never for security.
    case md5
    /// SHA-1 for tus's `Upload-Checksum` only (a client's integrity check), never for security.
    case sha1

    /// The digest's length in bytes.
    public var length: Int {
        switch self {
        case .sha256: return 32
        case .md5: return 16
        case .sha1: return 20
        }
    }

    fileprivate var evp: OpaquePointer {
        switch self {
        case .sha256: return EVP_sha256()
        case .md5: return EVP_md5()
        case .sha1: return EVP_sha1()
        }
    }
}

/// An incremental digest, so uploads can be hashed while they stream.
///
/// A class, not a struct: it owns one OpenSSL context, freed exactly once in
/// `deinit` (a copied struct freed it twice). `finalize` may be called once.
public final class DigestHasher {
    public let algorithm: DigestAlgorithm
    private let context: OpaquePointer
    private var finished = false

    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, algorithm.evp, nil)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update<D: DataProtocol>(_ data: D) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Finishes the digest; the hasher must not be used afterwards.
    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: algorithm.length)
        var length: UInt32 = 0
        precondition(!finished, "digest finalized twice")
        EVP_DigestFinal_ex(context, &out, &length)
        finished = true
        return out
    }

    /// The digest of `data` in one call.
    public static func hash<D: DataProtocol>(_ algorithm: DigestAlgorithm, _ data: D) -> [UInt8] {
        let h = DigestHasher(algorithm)
        h.update(data)
        return h.finalize()
    }
}
