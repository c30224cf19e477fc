// libFuzzer target: JWT verification (DepotAuth), its strict JSON parser and
// canonical base64url decoder.
//
// Input modes, by the first byte:
// - 'H': the rest is "<header JSON>\n<payload JSON>"; the harness signs it
//   with the HS256 test secret, so the fuzzer reaches the claim checks.
// - 'E': the same, signed ES256 with a key made at start-up.
// - anything else: the whole input is the token, as a client would send it.
//
// Invariants beyond "no crash":
// - a raw token never verifies (nobody but the harness holds the keys);
// - an accepted token yields lowercase canonical UUIDs, an unexpired `exp`,
//   and its header `alg` is the one it was signed with; Foundation's JSON
//   parser reads the same `sub` and `org` from the payload;
// - changing the signature or adding a byte to the payload makes an accepted
//   token fail;
// - canonical base64url: whatever decodes re-encodes to exactly the input.
import DepotCrypto
import DepotEncoding
@testable import DepotAuth
import Foundation

private let now: Int64 = 1_800_000_000
private let secret = Array("fuzz-hs256-secret-0123456789abcdef0123".utf8)
private let issuer = "https://issuer.fuzz.test"
private let audience = "depot-fuzz"

private let ecKey: PrivateKey = {
    do { return try PrivateKey.generate(.ec256) } catch { fatalError("EC key: \(error)") }
}()
// The public keys are also held here, as plain references: inside `JWTKey`
// they sit in an enum payload whose spare pointer bits carry the case, which
// LeakSanitizer cannot follow (it would report them as leaked).
private let ecPublic: PublicKey = {
    do { return try ecKey.publicKey() } catch { fatalError("EC public key: \(error)") }
}()
private let rsaPublic: PublicKey = {
    do { return try PrivateKey.generate(.rsa, rsaBits: 2048).publicKey() } catch { fatalError("RSA key: \(error)") }
}()
private let verifier: JWTVerifier = {
    let config = JWTVerifierConfiguration(keys: [
        JWTKey(id: "hs-1", algorithm: .hs256, hmacSecret: secret),
        JWTKey(id: "es-1", algorithm: .es256, publicKey: ecPublic),
        JWTKey(id: nil, algorithm: .rs256, publicKey: rsaPublic),
    ], issuer: issuer, audience: audience)
    precondition(config.problems().isEmpty, "\(config.problems())")
    return JWTVerifier(config)
}()

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant violated: \(message())") }
}

private func isCanonicalUUID(_ s: String) -> Bool {
    let u = Array(s.utf8)
    guard u.count == 36 else { return false }
    for (i, c) in u.enumerated() {
        if [8, 13, 18, 23].contains(i) { if c != UInt8(ascii: "-") { return false } }
        else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) { return false }
    }
    return true
}

private func checkAccepted(_ identity: Identity, header: [UInt8], payload: [UInt8], alg: String) {
    check(isCanonicalUUID(identity.userID), "userID \(identity.userID) not canonical")
    check(isCanonicalUUID(identity.organizationID), "organizationID \(identity.organizationID) not canonical")
    check(identity.expiresAt + Int64(verifier.configuration.leewaySeconds) >= now, "accepted an expired token")
    // The header that verified names the algorithm it was signed with.
    if let h = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] {
        check((h["alg"] as? String) == alg, "accepted header alg \(String(describing: h["alg"])) for a \(alg) signature")
    }
    // An independent parser agrees on who the token speaks for. (Foundation
    // keeps the last of duplicated names; the strict parser refuses them.)
    if let p = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] {
        check((p["sub"] as? String)?.lowercased() == identity.userID, "Foundation reads another sub")
        check((p["org"] as? String)?.lowercased() == identity.organizationID, "Foundation reads another org")
    }
}

private func signedToken(_ rest: ArraySlice<UInt8>, es256: Bool) -> (token: String, header: [UInt8], payload: [UInt8])? {
    let newline = rest.firstIndex(of: 0x0A) ?? rest.endIndex
    let header = Array(rest[rest.startIndex..<newline])
    let payload = newline < rest.endIndex ? Array(rest[(newline + 1)...]) : []
    let input = Base64URL.encode(header) + "." + Base64URL.encode(payload)
    let signature: [UInt8]
    if es256 {
        guard let s = try? ecKey.signES256(message: Array(input.utf8)) else { return nil }
        signature = s
    } else {
        signature = HMAC.sha256(key: secret, message: Array(input.utf8))
    }
    return (input + "." + Base64URL.encode(signature), header, payload)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))

    // Canonical base64url: one spelling per byte string.
    if let decoded = Base64URL.decode(input) {
        check(Array(Base64URL.encode(decoded).utf8) == input, "non-canonical base64url accepted")
    }
    // The strict parser never traps, whatever the bytes.
    _ = StrictJSONParser.parseObject(input)

    if let mode = input.first, mode == UInt8(ascii: "H") || mode == UInt8(ascii: "E") {
        let es256 = mode == UInt8(ascii: "E")
        guard let (token, header, payload) = signedToken(input[1...], es256: es256) else { return 0 }
        guard let identity = try? verifier.verify(token, now: now) else { return 0 }
        checkAccepted(identity, header: header, payload: payload, alg: es256 ? "ES256" : "HS256")
        // Tampering with an accepted token makes it fail.
        var parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let flipped = parts[2].hasPrefix("A") ? "B" + parts[2].dropFirst() : "A" + parts[2].dropFirst()
        check((try? verifier.verify(parts[0] + "." + parts[1] + "." + flipped, now: now)) == nil, "altered signature accepted")
        parts[1] = Base64URL.encode(payload + [0x20])
        check((try? verifier.verify(parts.joined(separator: "."), now: now)) == nil, "altered payload accepted")
        check((try? verifier.verify(token, now: identity.expiresAt + 31 + 1)) == nil, "accepted after exp + leeway")
    } else {
        let token = String(decoding: input, as: UTF8.self)
        if let identity = try? verifier.verify(token, now: now) {
            check(false, "a token the harness did not sign was accepted: \(identity)")
        }
    }
    return 0
}
