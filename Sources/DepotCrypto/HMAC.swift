import CCrypto
import Foundation

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

extension HMAC {
    /// Verifies an HMAC-SHA256 tag in constant time. Fails (instead of
    /// comparing against a zero-filled buffer) if OpenSSL reports an error,
    /// and always fails for an empty key.
    public static func verifySHA256(key: [UInt8], message: [UInt8], mac: [UInt8]) -> Bool {
        guard !key.isEmpty, mac.count == 32, let expected = checkedSHA256(key: key, message: message) else {
            return false
        }
        /* constant time comparison */
        return constantTimeEquals(expected, mac)
    }

    /// HMAC-SHA256 that returns nil when OpenSSL fails rather than a zero tag.
    public static func checkedSHA256(key: [UInt8], message: [UInt8]) -> [UInt8]? {
        guard key.count <= Int(Int32.max) else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        // A one-byte dummy keeps the key pointer non-NULL for an empty key:
        // OpenSSL treats a NULL key as "reuse the previous key".
        let ok: Bool = withNonNullBytes(key) { kp, kc in
            withNonNullBytes(message) { mp, mc in
                CCrypto.HMAC(EVP_sha256(), kp, Int32(kc), mp, mc, &out, &length) != nil
            }
        }
        ERR_clear_error()
        guard ok, length == 32 else { return nil }
        return out
    }
}
