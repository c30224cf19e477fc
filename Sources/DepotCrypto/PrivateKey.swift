import CCrypto
import Foundation

/// A private key for issuing ES256 or RS256 tokens (admin tool, dev stack, tests).
public final class PrivateKey: @unchecked Sendable {
    public typealias Kind = KeyKind

    let pkey: OpaquePointer
    public let kind: Kind

    /// Loads an unencrypted PEM private key (PKCS#8 `PRIVATE KEY`,
    /// `EC PRIVATE KEY` or `RSA PRIVATE KEY`). Never prompts for a password.
    public init(pem: String) throws {
        let text = normalizedPEM(pem)
        let bytes = Array(text.utf8)
        guard bytes.count <= Int(Int32.max) else { throw KeyError("PEM too large") }
        let key: OpaquePointer? = bytes.withUnsafeBufferPointer { buf in
            guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        ERR_clear_error()
        guard let key else { throw KeyError("no usable private key in PEM") }
        kind = try classifyOrFree(key)
        pkey = key
    }

    private init(owning key: OpaquePointer, kind: Kind) {
        pkey = key
        self.kind = kind
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Generates a fresh P-256 key (`.ec256`) or RSA key (`.rsa`, `rsaBits` bits).
    public static func generate(_ kind: Kind, rsaBits: Int = 2048) throws -> PrivateKey {
        guard kind == .ec256 || (rsaBits >= minimumRSABits && rsaBits <= 16384) else {
            throw KeyError("unsupported RSA size")
        }
        // The context keeps the key type name pointer: keep it alive until the context is freed.
        return try (kind == .ec256 ? "EC" : "RSA").withCString { keyType in
            guard let ctx = EVP_PKEY_CTX_new_from_name(nil, keyType, nil) else {
                throw KeyError("key generation unavailable")
            }
            defer {
                EVP_PKEY_CTX_free(ctx)
                ERR_clear_error()
            }
            guard EVP_PKEY_keygen_init(ctx) == 1 else { throw KeyError("keygen init failed") }
            switch kind {
            case .ec256:
                let ok = "prime256v1".withCString { EVP_PKEY_CTX_set_group_name(ctx, $0) }
                guard ok == 1 else { throw KeyError("P-256 unavailable") }
            case .rsa:
                guard EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(rsaBits)) == 1 else { throw KeyError("unsupported RSA size") }
            }
            var out: OpaquePointer?
            guard EVP_PKEY_generate(ctx, &out) == 1, let key = out else {
                throw KeyError("key generation failed")
            }
            return PrivateKey(owning: key, kind: kind)
        }
    }

    /// The matching public key.
    public func publicKey() throws -> PublicKey {
        try PublicKey(pem: publicKeyPEM())
    }

    /// The public half as PEM SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`).
    public func publicKeyPEM() -> String {
        writePEM { bio in PEM_write_bio_PUBKEY(bio, pkey) }
    }

    /// The key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    public func pemString() -> String {
        writePEM { bio in PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil) }
    }

    /// ES256 signature of `message` in JWS form: r‖s, 64 bytes.
    public func signES256(message: [UInt8]) throws -> [UInt8] {
        guard kind == .ec256 else { throw KeyError("not an EC P-256 key") }
        let der = try digestSign(pkey, message: message, rsaPadding: false)
        guard let raw = ecdsaDERToRaw(der) else { throw KeyError("unexpected ECDSA signature encoding") }
        return raw
    }

    /// RS256 signature of `message` (RSASSA-PKCS1-v1_5 with SHA-256).
    public func signRS256(message: [UInt8]) throws -> [UInt8] {
        guard kind == .rsa else { throw KeyError("not an RSA key") }
        return try digestSign(pkey, message: message, rsaPadding: true)
    }
}
