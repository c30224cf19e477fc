import CCrypto
import Foundation

/// SHA-256, incremental so uploads can be hashed while they stream.
public struct SHA256Hasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public mutating func update<D: DataProtocol>(_ data: D) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    /// Finishes the digest; the hasher must not be used afterwards.
    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        EVP_MD_CTX_free(context)
        return out
    }

    public static func hash<D: DataProtocol>(_ data: D) -> [UInt8] {
        var h = SHA256Hasher()
        h.update(data)
        return h.finalize()
    }
}

/// MD5 for S3's Content-MD5 and ETag comparisons only, never for security.
public struct MD5Hasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_md5(), nil)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public mutating func update<D: DataProtocol>(_ data: D) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        EVP_MD_CTX_free(context)
        return out
    }

    public static func hash<D: DataProtocol>(_ data: D) -> [UInt8] {
        var h = MD5Hasher()
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
    /// HKDF-SHA256 (RFC 5869) with the given salt and info, `length` output bytes.
    public static func sha256(key: [UInt8], salt: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { fatalError("OpenSSL lacks HKDF") }
        defer { EVP_KDF_free(kdf) }
        let ctx = EVP_KDF_CTX_new(kdf)
        defer { EVP_KDF_CTX_free(ctx) }
        var k = key, s = salt, i = info
        var digest = Array("SHA256".utf8CString)
        let ok: Int32 = k.withUnsafeMutableBytes { kp in
            s.withUnsafeMutableBytes { sp in
                i.withUnsafeMutableBytes { ip in
                    digest.withUnsafeMutableBufferPointer { dp in
                        var params = [
                            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, dp.baseAddress, 0),
                            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, kp.baseAddress, kp.count),
                            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, sp.baseAddress, sp.count),
                            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ip.baseAddress, ip.count),
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
