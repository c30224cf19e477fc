import CCrypto
import Foundation

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
