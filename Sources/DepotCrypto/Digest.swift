import CCrypto
import Foundation

/// SHA-256, incremental so uploads can be hashed while they stream.
public final class SHA256Hasher {
    private let context: OpaquePointer
    private var finished = false

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
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
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        precondition(!finished, "digest finalized twice")
        EVP_DigestFinal_ex(context, &out, &length)
        finished = true
        return out
    }

    public static func hash<D: DataProtocol>(_ data: D) -> [UInt8] {
        let h = SHA256Hasher()
        h.update(data)
        return h.finalize()
    }
}

/// MD5 for S3's Content-MD5 and ETag comparisons only, never for security.
public final class MD5Hasher {
    private let context: OpaquePointer
    private var finished = false

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_md5(), nil)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update<D: DataProtocol>(_ data: D) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    deinit { EVP_MD_CTX_free(context) }

    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        precondition(!finished, "digest finalized twice")
        EVP_DigestFinal_ex(context, &out, &length)
        finished = true
        return out
    }

    public static func hash<D: DataProtocol>(_ data: D) -> [UInt8] {
        let h = MD5Hasher()
        h.update(data)
        return h.finalize()
    }
}

public enum HMAC {
    /// HMAC-SHA256 of `message` under `key`.
    public static func sha256<K: DataProtocol, M: DataProtocol>(key: K, message: M) -> [UInt8] {
        let k = Array(key)
        let m = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        k.withUnsafeBufferPointer { kp in
            m.withUnsafeBufferPointer { mp in
                _ = CCrypto.HMAC(EVP_sha256(), kp.baseAddress, Int32(kp.count), mp.baseAddress, mp.count, &out, &length)
            }
        }
        return out
    }
}

public enum HKDF {
    // OSSL_PARAM keeps the parameter-name pointers until the derive call; a
    // Swift string literal's C pointer would be dead by then.
    private static let digestName = strdup(OSSL_KDF_PARAM_DIGEST)!
    private static let keyName = strdup(OSSL_KDF_PARAM_KEY)!
    private static let saltName = strdup(OSSL_KDF_PARAM_SALT)!
    private static let infoName = strdup(OSSL_KDF_PARAM_INFO)!

    /// HKDF-SHA256 (RFC 5869) with the given salt and info, `length` output bytes.
    public static func sha256(key: [UInt8], salt: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { fatalError("OpenSSL lacks HKDF") }
        defer { EVP_KDF_free(kdf) }
        let ctx = EVP_KDF_CTX_new(kdf)
        defer { EVP_KDF_CTX_free(ctx) }
        // Empty arrays have no storage; OpenSSL wants a real pointer even for
        // zero-length octet strings, so every input gets at least one byte.
        var k = key + [0], s = salt + [0], i = info + [0]
        var digest = Array("SHA256".utf8CString)
        let ok: Int32 = k.withUnsafeMutableBytes { kp in
            s.withUnsafeMutableBytes { sp in
                i.withUnsafeMutableBytes { ip in
                    digest.withUnsafeMutableBufferPointer { dp in
                        var params = [
                            OSSL_PARAM_construct_utf8_string(digestName, dp.baseAddress, 0),
                            OSSL_PARAM_construct_octet_string(keyName, kp.baseAddress, key.count),
                            OSSL_PARAM_construct_octet_string(saltName, sp.baseAddress, salt.count),
                            OSSL_PARAM_construct_octet_string(infoName, ip.baseAddress, info.count),
                            OSSL_PARAM_construct_end(),
                        ]
                        return EVP_KDF_derive(ctx, &out, length, &params)
                    }
                }
            }
        }
        precondition(ok == 1, "HKDF derivation failed")
        return out
    }
}

public enum SecureRandom {
    /// `count` bytes from OpenSSL's CSPRNG.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        precondition(RAND_bytes(&out, Int32(count)) == 1, "CSPRNG failure")
        return out
    }
}

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
where A.Element == UInt8, B.Element == UInt8 {
    let x = Array(a), y = Array(b)
    guard x.count == y.count else { return false }
    if x.isEmpty { return true }
    /* constant time comparison */
    return CRYPTO_memcmp(x, y, x.count) == 0
}
