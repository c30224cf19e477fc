import DepotAuth
import DepotCrypto
import DepotEncoding
import Foundation
import Testing

/// RFC 7515 Appendix A: the published example tokens, keys and signatures.
enum RFC7515 {
    static let exp: Int64 = 1_300_819_380
    static let payloadPart = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    // A.1: HS256
    static let a1Key = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
    static let a1Token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + payloadPart + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

    // A.2: RS256
    static let a2N = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    static let a2E = "AQAB"
    static let a2Token = "eyJhbGciOiJSUzI1NiJ9." + payloadPart + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"

    // A.3: ES256
    static let a3X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
    static let a3Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    static let a3Token = "eyJhbGciOiJFUzI1NiJ9." + payloadPart + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

    static func b64(_ s: String) -> [UInt8] { Base64URL.decode(s) ?? [] }

    /// The example payload has no sub/org, so a token whose signature checks
    /// out stops at the sub claim; one that does not stops at the signature.
    static let stopsAfterSignature = "sub missing or not a UUID"
    static let now = exp - 100
}

@Suite struct KnownAnswerSignatureTests {
    @Test func rfc7515A1HS256() {
        // RFC 7515 A.1: the HS256 example passes the signature check; a flipped bit does not
        let verifier = JWTVerifier(Fixture.config([JWTKey(id: nil, algorithm: .hs256, hmacSecret: RFC7515.b64(RFC7515.a1Key))]))
        #expect(refusal(verifier, RFC7515.a1Token, now: RFC7515.now) == RFC7515.stopsAfterSignature)
        // "k" → "g" changes a data bit of the last character and keeps the spelling canonical.
        let tampered = String(RFC7515.a1Token.dropLast()) + "g"
        #expect(refusal(verifier, tampered, now: RFC7515.now) == "signature does not verify")
    }

    @Test func rfc7515A2RS256WithPKCS1PEM() throws {
        // RFC 7515 A.2: the RS256 example verifies with its key given as PEM "RSA PUBLIC KEY" (PKCS#1)
        let pem = DER.rsaPublicKeyPEM(n: RFC7515.b64(RFC7515.a2N), e: RFC7515.b64(RFC7515.a2E))
        #expect(pem.hasPrefix("-----BEGIN RSA PUBLIC KEY-----"))
        let key = try PublicKey(pem: pem)
        #expect(key.kind == .rsa)
        #expect(key.bits == 2048)
        let verifier = JWTVerifier(Fixture.config([JWTKey(id: nil, algorithm: .rs256, publicKey: key)]))
        #expect(refusal(verifier, RFC7515.a2Token, now: RFC7515.now) == RFC7515.stopsAfterSignature)
        // The same key re-exported as SubjectPublicKeyInfo verifies too.
        let spki = try PublicKey(pem: key.pemString())
        #expect(key.pemString().hasPrefix("-----BEGIN PUBLIC KEY-----"))
        let parts = RFC7515.a2Token.split(separator: ".").map(String.init)
        #expect(spki.verifyRS256(message: Array((parts[0] + "." + parts[1]).utf8), signature: RFC7515.b64(parts[2])))
        #expect(!spki.verifyRS256(message: Array((parts[0] + "." + parts[1] + " ").utf8), signature: RFC7515.b64(parts[2])))
    }

    @Test func rfc7515A3ES256() throws {
        // RFC 7515 A.3: the ES256 example verifies with its P-256 point as SubjectPublicKeyInfo
        let key = try PublicKey(pem: DER.p256PublicKeyPEM(x: RFC7515.b64(RFC7515.a3X), y: RFC7515.b64(RFC7515.a3Y)))
        #expect(key.kind == .ec256)
        let verifier = JWTVerifier(Fixture.config([JWTKey(id: nil, algorithm: .es256, publicKey: key)]))
        #expect(refusal(verifier, RFC7515.a3Token, now: RFC7515.now) == RFC7515.stopsAfterSignature)
        let tampered = String(RFC7515.a3Token.dropLast()) + "A"
        #expect(refusal(verifier, tampered, now: RFC7515.now) == "signature does not verify")
    }
}

@Suite struct PublicKeyTests {
    @Test func kindsAndCrossAlgorithmUse() throws {
        // EC keys only verify ES256, RSA keys only RS256
        let message = Array("m".utf8)
        let es = try Fixture.ecKey.signES256(message: message)
        let rs = try Fixture.rsaKey.signRS256(message: message)
        #expect(Fixture.ecPublic.kind == .ec256 && Fixture.rsaPublic.kind == .rsa)
        #expect(Fixture.ecPublic.verifyES256(message: message, rawSignature: es))
        #expect(Fixture.rsaPublic.verifyRS256(message: message, signature: rs))
        #expect(!Fixture.rsaPublic.verifyES256(message: message, rawSignature: es))
        #expect(!Fixture.ecPublic.verifyRS256(message: message, signature: rs))
        #expect(!Fixture.rsaPublic.verifyRS256(message: message, signature: Array(rs.dropLast())))
        #expect(!Fixture.rsaPublic.verifyRS256(message: message, signature: []))
        #expect(!Fixture.ecPublic.verifyES256(message: message, rawSignature: [UInt8](repeating: 0, count: 64)))
        #expect(!Fixture.ecPublic.verifyES256(message: message, rawSignature: [UInt8](repeating: 0xff, count: 64)))
        #expect(throws: KeyError.self) { try Fixture.ecKey.signRS256(message: message) }
    }

    @Test func invalidPEMIsRejected() {
        // Garbage, empty, truncated, private-key and certificate-less PEM input throws
        let good = Fixture.ecKey.publicKeyPEM()
        let inputs = ["", "hello", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                      String(good.prefix(good.count / 2)), Fixture.ecKey.pemString(),
                      good.replacingOccurrences(of: "PUBLIC KEY", with: "CERTIFICATE"),
                      good.replacingOccurrences(of: "PUBLIC KEY", with: "RSA PUBLIC KEY")]
        for pem in inputs {
            #expect(throws: KeyError.self) { try PublicKey(pem: pem) }
        }
    }

    @Test func pemWithEscapedNewlinesIsAccepted() throws {
        // PEM pasted into an environment variable with literal \n sequences still loads
        let escaped = Fixture.rsaKey.publicKeyPEM().replacingOccurrences(of: "\n", with: "\\n")
        #expect(try PublicKey(pem: escaped).kind == .rsa)
    }

    @Test func privateKeyPEMRoundTrip() throws {
        // A generated private key survives PEM export and import and still signs for its public key
        let reloaded = try PrivateKey(pem: Fixture.ecKey.pemString())
        let sig = try reloaded.signES256(message: [1, 2, 3])
        #expect(sig.count == 64)
        #expect(Fixture.ecPublic.verifyES256(message: [1, 2, 3], rawSignature: sig))
        #expect(throws: KeyError.self) { try PrivateKey(pem: Fixture.ecKey.publicKeyPEM()) }
    }

    @Test func jwtKeyFromPEMPicksAlgorithm() throws {
        // JWTKey(publicKeyPEM:) maps EC keys to ES256 and RSA keys to RS256
        #expect(try JWTKey(id: "e", publicKeyPEM: Fixture.ecKey.publicKeyPEM()).algorithm == .es256)
        #expect(try JWTKey(id: "r", publicKeyPEM: Fixture.rsaKey.publicKeyPEM()).algorithm == .rs256)
    }
}

/// Cross-checks against the openssl command line, an implementation independent of ours.
@Suite(.enabled(if: OpenSSLCLI.available, "needs the openssl command"))
struct OpenSSLInteropTests {
    @Test func cliSignedES256TokenVerifies() throws {
        // A token signed by `openssl dgst -sha256 -sign` with a CLI-made P-256 key verifies
        let dir = try OpenSSLCLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try OpenSSLCLI.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"], in: dir)
        let pub = try OpenSSLCLI.run(["pkey", "-in", "ec.pem", "-pubout"], in: dir)
        let input = Fixture.b64(#"{"alg":"ES256","typ":"JWT"}"#) + "." + Fixture.b64(Fixture.validPayloadJSON)
        try Data(input.utf8).write(to: dir.appendingPathComponent("input"))
        let der = try OpenSSLCLI.run(["dgst", "-sha256", "-sign", "ec.pem", "input"], in: dir)
        let raw = try #require(DER.rawECDSASignature(der: Array(der)))
        let key = try PublicKey(pem: String(decoding: pub, as: UTF8.self))
        let verifier = JWTVerifier(Fixture.config([JWTKey(id: nil, algorithm: .es256, publicKey: key)]))
        #expect(refusal(verifier, input + "." + Base64URL.encode(raw)) == nil)
        #expect(refusal(verifier, input + "." + Base64URL.encode(Array(der))) == "signature does not verify")
    }

    @Test func cliSignedRS256TokenVerifiesWithPKCS1Key() throws {
        // A token signed by the CLI verifies with the CLI's "RSA PUBLIC KEY" (PKCS#1) export
        let dir = try OpenSSLCLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try OpenSSLCLI.run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"], in: dir)
        let pkcs1 = try OpenSSLCLI.run(["rsa", "-in", "rsa.pem", "-RSAPublicKey_out"], in: dir)
        #expect(String(decoding: pkcs1, as: UTF8.self).contains("BEGIN RSA PUBLIC KEY"))
        let input = Fixture.b64(#"{"alg":"RS256"}"#) + "." + Fixture.b64(Fixture.validPayloadJSON)
        try Data(input.utf8).write(to: dir.appendingPathComponent("input"))
        let sig = try OpenSSLCLI.run(["dgst", "-sha256", "-sign", "rsa.pem", "input"], in: dir)
        let key = try PublicKey(pem: String(decoding: pkcs1, as: UTF8.self))
        let verifier = JWTVerifier(Fixture.config([JWTKey(id: nil, algorithm: .rs256, publicKey: key)]))
        #expect(refusal(verifier, input + "." + Base64URL.encode(Array(sig))) == nil)
    }

    @Test func ourSignaturesVerifyWithCLI() throws {
        // ES256 and RS256 signatures we make pass `openssl dgst -verify`
        let dir = try OpenSSLCLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let message = Array("header.payload".utf8)
        try Data(message).write(to: dir.appendingPathComponent("input"))
        try Data(Fixture.ecKey.publicKeyPEM().utf8).write(to: dir.appendingPathComponent("ec.pub"))
        try Data(Fixture.rsaKey.publicKeyPEM().utf8).write(to: dir.appendingPathComponent("rsa.pub"))
        let es = try Fixture.ecKey.signES256(message: message)
        try Data(DER.ecdsaSignature(raw: es)).write(to: dir.appendingPathComponent("es.sig"))
        try Data(Fixture.rsaKey.signRS256(message: message)).write(to: dir.appendingPathComponent("rs.sig"))
        let esOut = try OpenSSLCLI.run(["dgst", "-sha256", "-verify", "ec.pub", "-signature", "es.sig", "input"], in: dir)
        let rsOut = try OpenSSLCLI.run(["dgst", "-sha256", "-verify", "rsa.pub", "-signature", "rs.sig", "input"], in: dir)
        #expect(String(decoding: esOut, as: UTF8.self).contains("Verified OK"))
        #expect(String(decoding: rsOut, as: UTF8.self).contains("Verified OK"))
    }

    @Test func weakOrForeignKeysAreRefused() throws {
        // P-384, RSA-1024 and Ed25519 public keys are refused at load time
        let dir = try OpenSSLCLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let specs: [[String]] = [["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
                                 ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
                                 ["-algorithm", "ED25519"]]
        for (i, spec) in specs.enumerated() {
            try OpenSSLCLI.run(["genpkey"] + spec + ["-out", "k\(i).pem"], in: dir)
            let pub = try OpenSSLCLI.run(["pkey", "-in", "k\(i).pem", "-pubout"], in: dir)
            #expect(throws: KeyError.self) { try PublicKey(pem: String(decoding: pub, as: UTF8.self)) }
        }
    }
}
