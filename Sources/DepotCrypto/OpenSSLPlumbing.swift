import CCrypto
import Foundation

// Public-key signatures for JWS: ES256 (ECDSA P-256 + SHA-256) and RS256
// (RSASSA-PKCS1-v1_5 + SHA-256), plus a checked HMAC-SHA256 verifier.
// Every function that looks at untrusted bytes returns false or throws;
// none of them traps on malformed input.
//
// This file: the OpenSSL plumbing PublicKey, PrivateKey and HMAC share.

struct PEMBlock {
    let name: String
    let der: [UInt8]
}

/// Accepts PEM with real newlines or with literal `\n` sequences (as PEM
/// often arrives through environment variables).
func normalizedPEM(_ pem: String) -> String {
    if !pem.contains("\n") && pem.contains("\\n") {
        return pem.replacingOccurrences(of: "\\n", with: "\n")
    }
    return pem
}

/// Reads every PEM block (name and decoded body) with OpenSSL's PEM reader.
func readPEMBlocks(_ pem: String) throws -> [PEMBlock] {
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

/// `classify`, freeing the key when it is refused (the caller owns it only on success).
func classifyOrFree(_ key: OpaquePointer) throws -> KeyKind {
    do {
        return try classify(key)
    } catch {
        EVP_PKEY_free(key)
        throw error
    }
}

func classify(_ key: OpaquePointer) throws -> KeyKind {
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

func digestVerify(_ pkey: OpaquePointer, message: [UInt8], signature: [UInt8], rsaPadding: Bool) -> Bool {
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

func digestSign(_ pkey: OpaquePointer, message: [UInt8], rsaPadding: Bool) throws -> [UInt8] {
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
func ecdsaRawToDER(_ raw: [UInt8]) -> [UInt8]? {
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
func ecdsaDERToRaw(_ der: [UInt8]) -> [UInt8]? {
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
func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
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

func writePEM(_ write: (OpaquePointer) -> Int32) -> String {
    guard let bio = BIO_new(BIO_s_mem()) else { return "" }
    defer { BIO_free(bio) }
    guard write(bio) == 1 else { ERR_clear_error(); return "" }
    let pending = Int(BIO_ctrl_pending(bio))
    var out = [UInt8](repeating: 0, count: pending)
    let read = BIO_read(bio, &out, Int32(pending))
    guard read > 0 else { return "" }
    return String(decoding: out.prefix(Int(read)), as: UTF8.self)
}
