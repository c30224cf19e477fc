import CCrypto
import Foundation

// Public-key signatures for JWS: ES256 (ECDSA P-256 + SHA-256) and RS256
// (RSASSA-PKCS1-v1_5 + SHA-256), plus a checked HMAC-SHA256 verifier.
// Every function that looks at untrusted bytes returns false or throws;
// none of them traps on malformed input.

/// The key types Depot signs and verifies with.
public enum KeyKind: String, Sendable {
    /// ECDSA on NIST P-256 (prime256v1), used by ES256.
    case ec256
    /// RSA of at least `minimumRSABits` bits, used by RS256.
    case rsa
}

/// Why a PEM key could not be loaded or generated.
public struct KeyError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// RSA keys shorter than this are refused when loaded.
public let minimumRSABits = 2048

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
        do {
            kind = try classify(key)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
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
        do {
            kind = try classify(key)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
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

// MARK: - OpenSSL plumbing

private struct PEMBlock {
    let name: String
    let der: [UInt8]
}

/// Accepts PEM with real newlines or with literal `\n` sequences (as PEM
/// often arrives through environment variables).
private func normalizedPEM(_ pem: String) -> String {
    if !pem.contains("\n") && pem.contains("\\n") {
        return pem.replacingOccurrences(of: "\\n", with: "\n")
    }
    return pem
}

/// Reads every PEM block (name and decoded body) with OpenSSL's PEM reader.
private func readPEMBlocks(_ pem: String) throws -> [PEMBlock] {
    let bytes = Array(normalizedPEM(pem).utf8)
    guard bytes.count <= 1 << 20 else { throw KeyError("PEM too large") }
    return bytes.withUnsafeBufferPointer { buf -> [PEMBlock] in
        guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { return [] }
        defer { BIO_free(bio) }
        var blocks: [PEMBlock] = []
        while blocks.count < 16 {
            var name: UnsafeMutablePointer<CChar>?
            var header: UnsafeMutablePointer<CChar>?
            var data: UnsafeMutablePointer<UInt8>?
            var length: Int = 0
            guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else { break }
            defer {
                CRYPTO_free(name, nil, 0)
                CRYPTO_free(header, nil, 0)
                CRYPTO_free(data, nil, 0)
            }
            // Encrypted or otherwise annotated blocks are not plain keys.
            let headerText = header.map { String(cString: $0) } ?? ""
            guard let name, headerText.isEmpty, length >= 0 else { continue }
            let der = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
            blocks.append(PEMBlock(name: String(cString: name), der: der))
        }
        ERR_clear_error()
        return blocks
    }
}

private func classify(_ key: OpaquePointer) throws -> KeyKind {
    switch EVP_PKEY_get_base_id(key) {
    case EVP_PKEY_EC:
        var name = [CChar](repeating: 0, count: 64)
        var length = 0
        guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 else {
            ERR_clear_error()
            throw KeyError("EC key without a named curve")
        }
        let curve = String(decoding: name.prefix(min(length, name.count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard curve == "prime256v1" || curve == "P-256" else { throw KeyError("EC curve \(curve) is not P-256") }
        return .ec256
    case EVP_PKEY_RSA:
        guard EVP_PKEY_get_bits(key) >= Int32(minimumRSABits) else {
            throw KeyError("RSA key shorter than \(minimumRSABits) bits")
        }
        return .rsa
    default:
        throw KeyError("unsupported key type (need EC P-256 or RSA)")
    }
}

private func digestVerify(_ pkey: OpaquePointer, message: [UInt8], signature: [UInt8], rsaPadding: Bool) -> Bool {
    guard !signature.isEmpty, let ctx = EVP_MD_CTX_new() else { return false }
    defer {
        EVP_MD_CTX_free(ctx)
        ERR_clear_error()
    }
    var pctx: OpaquePointer?
    guard EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nil, pkey) == 1 else { return false }
    if rsaPadding {
        guard let pctx, EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 else { return false }
    }
    let result: Int32 = withNonNullBytes(signature) { sp, sc in
        withNonNullBytes(message) { mp, mc in
            EVP_DigestVerify(ctx, sp, sc, mp, mc)
        }
    }
    return result == 1
}

private func digestSign(_ pkey: OpaquePointer, message: [UInt8], rsaPadding: Bool) throws -> [UInt8] {
    guard let ctx = EVP_MD_CTX_new() else { throw KeyError("out of memory") }
    defer {
        EVP_MD_CTX_free(ctx)
        ERR_clear_error()
    }
    var pctx: OpaquePointer?
    guard EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nil, pkey) == 1 else { throw KeyError("sign init failed") }
    if rsaPadding {
        guard let pctx, EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 else { throw KeyError("padding") }
    }
    return try withNonNullBytes(message) { m, count in
        var length = 0
        guard EVP_DigestSign(ctx, nil, &length, m, count) == 1, length > 0 else { throw KeyError("sign failed") }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(ctx, &out, &length, m, count) == 1 else { throw KeyError("sign failed") }
        return Array(out.prefix(length))
    }
}

/// JWS r‖s (32 + 32 bytes) to the DER `ECDSA-Sig-Value` OpenSSL verifies.
private func ecdsaRawToDER(_ raw: [UInt8]) -> [UInt8]? {
    guard raw.count == 64, let sig = ECDSA_SIG_new() else { return nil }
    defer { ECDSA_SIG_free(sig) }
    let r = Array(raw[0..<32]).withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
    let s = Array(raw[32..<64]).withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
    guard let r, let s else {
        BN_free(r)
        BN_free(s)
        return nil
    }
    guard ECDSA_SIG_set0(sig, r, s) == 1 else {
        BN_free(r)
        BN_free(s)
        return nil
    }
    let length = i2d_ECDSA_SIG(sig, nil)
    guard length > 0 else { return nil }
    var der = [UInt8](repeating: 0, count: Int(length))
    let written: Int32 = der.withUnsafeMutableBufferPointer { buf in
        var p = buf.baseAddress
        return i2d_ECDSA_SIG(sig, &p)
    }
    guard written == length else { return nil }
    return der
}

/// DER `ECDSA-Sig-Value` to JWS r‖s, each left-padded to 32 bytes.
private func ecdsaDERToRaw(_ der: [UInt8]) -> [UInt8]? {
    let sig: OpaquePointer? = der.withUnsafeBufferPointer { buf in
        var p = buf.baseAddress.map { UnsafePointer($0) }
        return d2i_ECDSA_SIG(nil, &p, buf.count)
    }
    guard let sig else { return nil }
    defer { ECDSA_SIG_free(sig) }
    guard let r = ECDSA_SIG_get0_r(sig), let s = ECDSA_SIG_get0_s(sig) else { return nil }
    var out = [UInt8](repeating: 0, count: 64)
    let ok: Bool = out.withUnsafeMutableBufferPointer { buf in
        guard let base = buf.baseAddress else { return false }
        return BN_bn2binpad(r, base, 32) == 32 && BN_bn2binpad(s, base + 32, 32) == 32
    }
    return ok ? out : nil
}

/// Calls `body` with a pointer that is never NULL (OpenSSL treats some NULL
/// pointers specially even with a zero length) and the byte count.
private func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
    if bytes.isEmpty {
        var zero: UInt8 = 0
        return try withUnsafePointer(to: &zero) { try body($0, 0) }
    }
    return try bytes.withUnsafeBufferPointer { buf in
        guard let base = buf.baseAddress else {
            var zero: UInt8 = 0
            return try withUnsafePointer(to: &zero) { try body($0, 0) }
        }
        return try body(base, buf.count)
    }
}

private func writePEM(_ write: (OpaquePointer) -> Int32) -> String {
    guard let bio = BIO_new(BIO_s_mem()) else { return "" }
    defer { BIO_free(bio) }
    guard write(bio) == 1 else { ERR_clear_error(); return "" }
    let pending = Int(BIO_ctrl_pending(bio))
    var out = [UInt8](repeating: 0, count: pending)
    let read = BIO_read(bio, &out, Int32(pending))
    guard read > 0 else { return "" }
    return String(decoding: out.prefix(Int(read)), as: UTF8.self)
}
