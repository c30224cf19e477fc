import DepotAuth
import DepotCrypto
import DepotEncoding
import Foundation
import Testing

/// Keys, claims and token builders shared by the JWT tests. Keys are made
/// fresh for each test run and never written to the repository.
enum Fixture {
    static let now: Int64 = 1_800_000_000
    static let userID = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    static let orgID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    static let hmacSecret = Array("depot-test-secret-0123456789abcdef".utf8)

    static let ecKey: PrivateKey = {
        do { return try PrivateKey.generate(.ec256) } catch { fatalError("EC key generation: \(error)") }
    }()
    static let rsaKey: PrivateKey = {
        do { return try PrivateKey.generate(.rsa, rsaBits: 2048) } catch { fatalError("RSA key generation: \(error)") }
    }()
    static let ecPublic: PublicKey = {
        do { return try ecKey.publicKey() } catch { fatalError("EC public key: \(error)") }
    }()
    static let rsaPublic: PublicKey = {
        do { return try rsaKey.publicKey() } catch { fatalError("RSA public key: \(error)") }
    }()

    /// Valid claims for `now`, with `changes` applied (`NSNull()` removes a claim).
    static func claims(_ changes: [String: Any] = [:]) -> [String: Any] {
        var c: [String: Any] = ["sub": userID, "org": orgID, "exp": now + 600, "iat": now - 10]
        for (name, value) in changes {
            if value is NSNull { c[name] = nil } else { c[name] = value }
        }
        return c
    }

    static func config(_ keys: [JWTKey], issuer: String? = nil, audience: String? = nil) -> JWTVerifierConfiguration {
        JWTVerifierConfiguration(keys: keys, issuer: issuer, audience: audience)
    }

    static var hsKey: JWTKey { JWTKey(id: nil, algorithm: .hs256, hmacSecret: hmacSecret) }
    static var esKey: JWTKey { JWTKey(id: nil, algorithm: .es256, publicKey: ecPublic) }
    static var rsKey: JWTKey { JWTKey(id: nil, algorithm: .rs256, publicKey: rsaPublic) }

    /// A verifier accepting all three algorithms with the fixture keys.
    static var verifier: JWTVerifier { JWTVerifier(config([hsKey, esKey, rsKey])) }

    static func hs256(_ changes: [String: Any] = [:], kid: String? = nil) -> String {
        JWTSigner.hs256(secret: hmacSecret, claims: claims(changes), keyID: kid)
    }

    /// A token from literal header and payload JSON text, HMAC-signed with `secret`:
    /// lets tests write JSON that no serializer would produce.
    static func rawHS256(header: String, payload: String, secret: [UInt8] = hmacSecret) -> String {
        let input = b64(header) + "." + b64(payload)
        return input + "." + Base64URL.encode(HMAC.sha256(key: secret, message: Array(input.utf8)))
    }

    static func b64(_ text: String) -> String { Base64URL.encode(Array(text.utf8)) }

    static var validPayloadJSON: String {
        #"{"sub":"\#(userID)","org":"\#(orgID)","exp":\#(now + 600)}"#
    }
}

/// Runs `verify` and returns the refusal reason, or nil if the token was accepted.
func refusal(_ verifier: JWTVerifier, _ token: String, now: Int64 = Fixture.now) -> String? {
    do {
        _ = try verifier.verify(token, now: now)
        return nil
    } catch let error as AuthError {
        return error.reason
    } catch {
        return "unexpected error type: \(error)"
    }
}

// MARK: - DER and PEM builders for known-answer keys

enum DER {
    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var bytes: [UInt8] = []
        var v = n
        while v > 0 { bytes.insert(UInt8(v & 0xff), at: 0); v >>= 8 }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ body: [UInt8]) -> [UInt8] { [tag] + length(body.count) + body }

    /// A positive INTEGER from big-endian magnitude bytes.
    static func integer(_ magnitude: [UInt8]) -> [UInt8] {
        var m = Array(magnitude.drop(while: { $0 == 0 }))
        if m.isEmpty { m = [0] }
        if m[0] & 0x80 != 0 { m.insert(0, at: 0) }
        return tlv(0x02, m)
    }

    static func sequence(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }

    static func pem(_ label: String, _ der: [UInt8]) -> String {
        let body = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(body)\n-----END \(label)-----\n"
    }

    /// PEM SubjectPublicKeyInfo for a P-256 point.
    static func p256PublicKeyPEM(x: [UInt8], y: [UInt8]) -> String {
        let prefix: [UInt8] = [0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                               0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04]
        return pem("PUBLIC KEY", prefix + x + y)
    }

    /// PEM PKCS#1 `RSA PUBLIC KEY` for a modulus and exponent.
    static func rsaPublicKeyPEM(n: [UInt8], e: [UInt8]) -> String {
        pem("RSA PUBLIC KEY", sequence(integer(n), integer(e)))
    }

    /// JWS r‖s to a DER ECDSA-Sig-Value (what the openssl CLI expects).
    static func ecdsaSignature(raw: [UInt8]) -> [UInt8] {
        sequence(integer(Array(raw[0..<32])), integer(Array(raw[32..<64])))
    }

    /// DER ECDSA-Sig-Value (from the openssl CLI) to JWS r‖s; nil if malformed.
    static func rawECDSASignature(der: [UInt8]) -> [UInt8]? {
        /// Splits one TLV with `tag` off the front of `bytes`: (value, rest).
        func take(_ tag: UInt8, _ bytes: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, ArraySlice<UInt8>)? {
            var i = bytes.startIndex
            guard bytes.count >= 2, bytes[i] == tag else { return nil }
            var len = Int(bytes[i + 1]); i += 2
            if len & 0x80 != 0 {
                let n = len & 0x7f
                guard n >= 1, n <= 2, i + n <= bytes.endIndex else { return nil }
                len = bytes[i..<(i + n)].reduce(0) { $0 << 8 | Int($1) }; i += n
            }
            guard i + len <= bytes.endIndex else { return nil }
            return (bytes[i..<(i + len)], bytes[(i + len)...])
        }
        func pad(_ v: ArraySlice<UInt8>) -> [UInt8]? {
            let m = Array(v.drop(while: { $0 == 0 }))
            guard m.count <= 32 else { return nil }
            return [UInt8](repeating: 0, count: 32 - m.count) + m
        }
        guard let (body, rest) = take(0x30, der[...]), rest.isEmpty,
              let (r, afterR) = take(0x02, body), let (s, end) = take(0x02, afterR), end.isEmpty,
              let pr = pad(r), let ps = pad(s)
        else { return nil }
        return pr + ps
    }
}

// MARK: - openssl command line, for interoperability checks

enum OpenSSLCLI {
    static let path: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/openssl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static var available: Bool { path != nil }

    /// Runs `openssl args` in `directory`; returns stdout, throws on a non-zero exit.
    @discardableResult
    static func run(_ args: [String], in directory: URL) throws -> Data {
        guard let path else { throw CLIError(message: "openssl not found") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError(message: "openssl \(args.joined(separator: " ")): \(String(decoding: errData, as: UTF8.self))")
        }
        return data
    }

    struct CLIError: Error { let message: String }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("depot-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
