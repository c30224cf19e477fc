import CCrypto
import Foundation

// Public-key signatures for JWS: ES256 (ECDSA P-256 + SHA-256) and RS256
// (RSASSA-PKCS1-v1_5 + SHA-256), plus a checked HMAC-SHA256 verifier.
// Every function that looks at untrusted bytes returns false or throws;
// none of them traps on malformed input.

/// A public key for verifying ES256 or RS256 signatures.
///
/// Accepts PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding an EC P-256 or RSA
/// key, and PEM `RSA PUBLIC KEY` (PKCS#1). Other curves, RSA-PSS-only keys,
/// and RSA keys under 2048 bits are refused. Safe to share between threads
/// once created: verification never modifies the key.
public final class PublicKey: @unchecked Sendable {
    public typealias Kind = KeyKind

    let pkey: OpaquePointer
    public let kind: Kind

    public init(pem: String) throws {
        let blocks = try readPEMBlocks(pem)
        var loaded: OpaquePointer?
        for block in blocks {
            switch block.name {
            case "PUBLIC KEY":
                loaded = block.der.withUnsafeBufferPointer { buf -> OpaquePointer? in
                    guard let start = UnsafePointer(buf.baseAddress) else { return nil }
                    var p: UnsafePointer<UInt8>? = start
                    guard let key = d2i_PUBKEY(nil, &p, buf.count) else { return nil }
                    // The whole block must be the key, nothing after it.
                    guard let end = p, end - start == buf.count else { EVP_PKEY_free(key); return nil }
                    return key
                }
            case "RSA PUBLIC KEY":
                loaded = block.der.withUnsafeBufferPointer { buf -> OpaquePointer? in
                    guard let start = UnsafePointer(buf.baseAddress) else { return nil }
                    var p: UnsafePointer<UInt8>? = start
                    guard let key = d2i_PublicKey(EVP_PKEY_RSA, nil, &p, buf.count) else { return nil }
                    guard let end = p, end - start == buf.count else { EVP_PKEY_free(key); return nil }
                    return key
                }
            default:
                continue
            }
            break
        }
        ERR_clear_error()
        guard let key = loaded else {
            throw KeyError("no usable PUBLIC KEY or RSA PUBLIC KEY block in PEM")
        }
        kind = try classifyOrFree(key)
        pkey = key
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Verifies a JWS ES256 signature: `rawSignature` is r‖s, 32 bytes each
    /// (RFC 7518 §3.4). Any other length, including a DER signature, fails.
    public func verifyES256(message: [UInt8], rawSignature: [UInt8]) -> Bool {
        guard kind == .ec256, rawSignature.count == 64 else { return false }
        guard let der = ecdsaRawToDER(rawSignature) else { return false }
        return digestVerify(pkey, message: message, signature: der, rsaPadding: false)
    }

    /// Verifies an RS256 signature (RSASSA-PKCS1-v1_5 with SHA-256). The
    /// signature must be exactly as long as the modulus.
    public func verifyRS256(message: [UInt8], signature: [UInt8]) -> Bool {
        guard kind == .rsa, signature.count == Int(EVP_PKEY_get_size(pkey)) else { return false }
        return digestVerify(pkey, message: message, signature: signature, rsaPadding: true)
    }

    /// Size of the key in bits (256 for P-256, the modulus size for RSA).
    public var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    /// The key as PEM SubjectPublicKeyInfo.
    public func pemString() -> String {
        writePEM { bio in PEM_write_bio_PUBKEY(bio, pkey) }
    }
}
