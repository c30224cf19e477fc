import DepotAuth
import DepotCrypto
import DepotEncoding
import Foundation
import Testing

@Suite struct ValidTokenTests {
    @Test func validHS256() throws {
        // An HS256 token with sub and org yields a member identity with lowercased ids
        let identity = try Fixture.verifier.verify(Fixture.hs256(), now: Fixture.now)
        #expect(identity == Identity(userID: Fixture.userID.lowercased(), organizationID: Fixture.orgID,
                                     role: .member, accountType: nil, expiresAt: Fixture.now + 600))
    }

    @Test func validES256() throws {
        // An ES256 token verifies with the EC P-256 public key
        let token = try JWTSigner.es256(privateKey: Fixture.ecKey, claims: Fixture.claims(["role": "admin"]))
        let identity = try JWTVerifier(Fixture.config([Fixture.esKey])).verify(token, now: Fixture.now)
        #expect(identity.role == .admin)
        #expect(identity.userID == "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    }

    @Test func validRS256() throws {
        // An RS256 token verifies with the RSA public key
        let token = try JWTSigner.rs256(privateKey: Fixture.rsaKey, claims: Fixture.claims(["acct": "organization"]))
        let identity = try JWTVerifier(Fixture.config([Fixture.rsKey])).verify(token, now: Fixture.now)
        #expect(identity.accountType == .organization)
        #expect(identity.role == .member)
    }

    @Test func roleAndAccountTypeValues() throws {
        // role admin/member and acct individual/organization are all accepted
        for (role, acct) in [("admin", "individual"), ("member", "organization")] {
            let identity = try Fixture.verifier.verify(Fixture.hs256(["role": role, "acct": acct]), now: Fixture.now)
            #expect(identity.role.rawValue == role)
            #expect(identity.accountType?.rawValue == acct)
        }
    }

    @Test func fractionalExpIsAcceptedAndRoundedDown() throws {
        // exp may be a JSON float; expiresAt is its integer part
        let identity = try Fixture.verifier.verify(Fixture.hs256(["exp": Double(Fixture.now) + 100.75]), now: Fixture.now)
        #expect(identity.expiresAt == Fixture.now + 100)
    }

    @Test func extraClaimsAndHeaderFieldsAreIgnored() throws {
        // Unknown claims, typ/cty headers and whitespace in the JSON do not matter
        let token = Fixture.rawHS256(
            header: #"{ "typ" : "JWT", "cty": "x", "alg" : "HS256" }"#,
            payload: #"{"sub":"\#(Fixture.userID)", "org":"\#(Fixture.orgID)","exp":\#(Fixture.now + 5),"nested":{"a":[1,2.5e3,null,true]},"name":"Zo\u00eb"}"#)
        #expect(refusal(Fixture.verifier, token) == nil)
    }
}

@Suite struct AlgorithmTests {
    @Test func algNoneIsRejected() {
        // alg none in any case, with or without a signature, is refused
        for alg in ["none", "None", "NONE", "nOnE"] {
            let unsigned = Fixture.b64(#"{"alg":"\#(alg)"}"#) + "." + Fixture.b64(Fixture.validPayloadJSON) + "."
            #expect(refusal(Fixture.verifier, unsigned) != nil)
            let signed = Fixture.rawHS256(header: #"{"alg":"\#(alg)"}"#, payload: Fixture.validPayloadJSON)
            #expect(refusal(Fixture.verifier, signed) != nil)
        }
    }

    @Test func unconfiguredAlgorithmIsRejected() throws {
        // A correctly signed ES256 token is refused when only HS256 is configured
        let token = try JWTSigner.es256(privateKey: Fixture.ecKey, claims: Fixture.claims())
        #expect(refusal(JWTVerifier(Fixture.config([Fixture.hsKey])), token) == "alg not accepted")
    }

    @Test func unknownAndMiscasedAlgorithmsAreRejected() {
        // hs256 (lowercase), HS512, PS256 and a missing or non-string alg are refused
        for header in [#"{"alg":"hs256"}"#, #"{"alg":"HS512"}"#, #"{"alg":"PS256"}"#, #"{"typ":"JWT"}"#,
                       #"{"alg":null}"#, #"{"alg":["HS256"]}"#] {
            #expect(refusal(Fixture.verifier, Fixture.rawHS256(header: header, payload: Fixture.validPayloadJSON)) != nil)
        }
    }

    @Test func hs256SignedWithRSAPublicKeyPEMIsRejected() {
        // Key confusion: HS256 with the RS256 public key PEM as secret, only RS256 configured
        let pemSecret = Array(Fixture.rsaKey.publicKeyPEM().utf8)
        let token = JWTSigner.hs256(secret: pemSecret, claims: Fixture.claims())
        #expect(refusal(JWTVerifier(Fixture.config([Fixture.rsKey])), token) == "alg not accepted")
    }

    @Test func hs256WithKidOfRSAKeyIsRejected() {
        // Key confusion with kid: HS256 token naming the RSA key's kid, both algorithms configured
        let keys = [JWTKey(id: "rsa-1", algorithm: .rs256, publicKey: Fixture.rsaPublic),
                    JWTKey(id: "hmac-1", algorithm: .hs256, hmacSecret: Fixture.hmacSecret)]
        let pemSecret = Array(Fixture.rsaKey.publicKeyPEM().utf8)
        let token = JWTSigner.hs256(secret: pemSecret, claims: Fixture.claims(), keyID: "rsa-1")
        #expect(refusal(JWTVerifier(Fixture.config(keys)), token) == "kid is not a HS256 key")
        let noKid = JWTSigner.hs256(secret: pemSecret, claims: Fixture.claims())
        #expect(refusal(JWTVerifier(Fixture.config(keys)), noKid) == "signature does not verify")
    }

    @Test func critHeaderIsRejected() {
        // A crit header is refused even when correctly signed
        let token = Fixture.rawHS256(header: #"{"alg":"HS256","crit":["exp"]}"#, payload: Fixture.validPayloadJSON)
        #expect(refusal(Fixture.verifier, token) == "crit header refused")
    }

    @Test func mismatchedKeyMaterialNeverVerifies() {
        // A JWTKey whose material does not fit its algorithm verifies nothing and is reported
        let bogus = JWTKey(id: nil, algorithm: .es256, hmacSecret: Fixture.hmacSecret)
        let wrongCurve = JWTKey(id: nil, algorithm: .es256, publicKey: Fixture.rsaPublic)
        let forged = Fixture.rawHS256(header: #"{"alg":"ES256"}"#, payload: Fixture.validPayloadJSON)
        #expect(refusal(JWTVerifier(Fixture.config([bogus, wrongCurve])), forged) == "signature does not verify")
        let problems = Fixture.config([bogus, wrongCurve, JWTKey(id: nil, algorithm: .hs256, hmacSecret: [])]).problems()
        #expect(problems.count == 3)
        #expect(Fixture.config([Fixture.hsKey, Fixture.esKey, Fixture.rsKey]).problems().isEmpty)
        #expect(Fixture.config([]).problems() == ["no JWT keys configured"])
    }

    @Test func emptyHMACSecretNeverVerifies() {
        // An HS256 key with an empty secret refuses even a token MACed with the empty key
        let token = JWTSigner.hs256(secret: [], claims: Fixture.claims())
        let verifier = JWTVerifier(Fixture.config([JWTKey(id: nil, algorithm: .hs256, hmacSecret: [])]))
        #expect(refusal(verifier, token) == "signature does not verify")
    }
}

@Suite struct SignatureCheckTests {
    @Test func wrongSignatureIsRejected() throws {
        // A flipped signature bit, another key's signature, an empty signature: all refused
        let tokens = [Fixture.hs256(),
                      try JWTSigner.es256(privateKey: Fixture.ecKey, claims: Fixture.claims()),
                      try JWTSigner.rs256(privateKey: Fixture.rsaKey, claims: Fixture.claims())]
        for token in tokens {
            #expect(refusal(Fixture.verifier, token) == nil)
            let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            var sig = try #require(Base64URL.decode(parts[2]))
            sig[sig.count / 2] ^= 0x01
            #expect(refusal(Fixture.verifier, parts[0] + "." + parts[1] + "." + Base64URL.encode(sig)) == "signature does not verify")
            #expect(refusal(Fixture.verifier, parts[0] + "." + parts[1] + ".") == "signature does not verify")
        }
        let otherSecret = JWTSigner.hs256(secret: Array("another-secret-another-secret-xx".utf8), claims: Fixture.claims())
        #expect(refusal(Fixture.verifier, otherSecret) == "signature does not verify")
        let otherEC = try JWTSigner.es256(privateKey: PrivateKey.generate(.ec256), claims: Fixture.claims())
        #expect(refusal(Fixture.verifier, otherEC) == "signature does not verify")
    }

    @Test func tamperedPayloadIsRejected() {
        // Swapping in another payload under a valid signature is refused
        let good = Fixture.hs256().split(separator: ".").map(String.init)
        let admin = Fixture.hs256(["role": "admin"]).split(separator: ".").map(String.init)
        #expect(refusal(Fixture.verifier, good[0] + "." + admin[1] + "." + good[2]) == "signature does not verify")
    }

    @Test func es256SignatureOfWrongLengthIsRejected() throws {
        // ES256 signatures must be 64 raw bytes: 63, 65, 0 bytes and the DER form are refused
        let token = try JWTSigner.es256(privateKey: Fixture.ecKey, claims: Fixture.claims())
        let parts = token.split(separator: ".").map(String.init)
        let raw = try #require(Base64URL.decode(parts[2]))
        #expect(raw.count == 64)
        let verifier = JWTVerifier(Fixture.config([Fixture.esKey]))
        let variants: [[UInt8]] = [Array(raw.prefix(63)), raw + [0], [0] + raw, [], DER.ecdsaSignature(raw: raw)]
        for sig in variants {
            #expect(refusal(verifier, parts[0] + "." + parts[1] + "." + Base64URL.encode(sig)) == "signature does not verify")
        }
        // The DER form is a valid signature for OpenSSL, but not a JWS one.
        #expect(!Fixture.ecPublic.verifyES256(message: Array((parts[0] + "." + parts[1]).utf8), rawSignature: DER.ecdsaSignature(raw: raw)))
    }
}

@Suite struct KeyIDTests {
    static let keyA = Array("secret-A-secret-A-secret-A-0123456".utf8)
    static let keyB = Array("secret-B-secret-B-secret-B-0123456".utf8)
    static var verifier: JWTVerifier {
        JWTVerifier(Fixture.config([JWTKey(id: "a", algorithm: .hs256, hmacSecret: keyA),
                                    JWTKey(id: "b", algorithm: .hs256, hmacSecret: keyB),
                                    JWTKey(id: "ec", algorithm: .es256, publicKey: Fixture.ecPublic)]))
    }

    @Test func unknownKidIsRejected() {
        // A kid that names no configured key is refused even if some key would verify
        let token = JWTSigner.hs256(secret: Self.keyA, claims: Fixture.claims(), keyID: "c")
        #expect(refusal(Self.verifier, token) == "unknown kid")
        let caseVariant = JWTSigner.hs256(secret: Self.keyA, claims: Fixture.claims(), keyID: "A")
        #expect(refusal(Self.verifier, caseVariant) == "unknown kid")
        let noIDs = JWTVerifier(Fixture.config([Fixture.hsKey]))
        #expect(refusal(noIDs, Fixture.hs256(kid: "any")) == "unknown kid")
    }

    @Test func kidSelectsExactlyThatKey() {
        // kid b with b's secret passes; kid b with a's secret fails
        #expect(refusal(Self.verifier, JWTSigner.hs256(secret: Self.keyB, claims: Fixture.claims(), keyID: "b")) == nil)
        #expect(refusal(Self.verifier, JWTSigner.hs256(secret: Self.keyA, claims: Fixture.claims(), keyID: "b")) == "signature does not verify")
    }

    @Test func noKidTriesEveryKeyOfTheAlgorithm() {
        // Without kid, each key of the header's algorithm is tried
        #expect(refusal(Self.verifier, JWTSigner.hs256(secret: Self.keyA, claims: Fixture.claims())) == nil)
        #expect(refusal(Self.verifier, JWTSigner.hs256(secret: Self.keyB, claims: Fixture.claims())) == nil)
    }

    @Test func kidOfKeyWithOtherAlgorithmIsRejected() {
        // kid names an ES256 key but the header says HS256
        let token = JWTSigner.hs256(secret: Self.keyA, claims: Fixture.claims(), keyID: "ec")
        #expect(refusal(Self.verifier, token) == "kid is not a HS256 key")
    }

    @Test func nonStringKidIsRejected() {
        // kid must be a string
        let token = Fixture.rawHS256(header: #"{"alg":"HS256","kid":1}"#, payload: Fixture.validPayloadJSON, secret: Self.keyA)
        #expect(refusal(Self.verifier, token) == "kid is not a string")
    }
}

@Suite struct TokenShapeTests {
    @Test func malformedBase64IsRejected() {
        // '+', '/', '=', spaces and non-ASCII in any part are refused
        let parts = Fixture.hs256().split(separator: ".").map(String.init)
        let broken = [
            parts[0] + "=." + parts[1] + "." + parts[2],
            parts[0] + "." + parts[1] + "." + parts[2] + "=",
            parts[0] + "." + parts[1] + "+." + parts[2],
            parts[0] + "." + parts[1] + "." + parts[2].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "/+",
            " " + parts.joined(separator: "."),
            parts.joined(separator: ".") + "\n",
            parts[0] + ".é" + parts[1] + "." + parts[2],
            parts[0] + "." + parts[1] + "." + parts[2] + "AA",
        ]
        for token in broken {
            #expect(refusal(Fixture.verifier, token) == "token part is not canonical base64url")
        }
    }

    @Test func nonCanonicalBase64TrailingBitsAreRejected() throws {
        // A signature spelled with non-zero unused bits ("…Q" vs "…R") is a different token and is refused
        let token = Fixture.hs256()
        let last = try #require(token.last)
        // HS256: 32 bytes → 43 characters; the last one carries 2 unused bits.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let index = try #require(alphabet.firstIndex(of: last))
        let sibling = String(alphabet[index ^ 0x01])
        #expect(refusal(Fixture.verifier, String(token.dropLast()) + sibling) == "token part is not canonical base64url")
    }

    @Test func wrongNumberOfPartsIsRejected() {
        // Empty, one, two, four and five parts are refused
        let token = Fixture.hs256()
        for bad in ["", ".", "..", "abc", token + ".", token + "." + "AAAA", "." + token,
                    token.split(separator: ".").prefix(2).joined(separator: ".")] {
            let reason = refusal(Fixture.verifier, bad)
            #expect(reason != nil)
        }
        #expect(refusal(Fixture.verifier, token + ".") == "token does not have three parts")
    }

    @Test func hundredKilobyteTokenIsRejected() {
        // A 100 KB token is refused before parsing
        let huge = Fixture.hs256(["pad": String(repeating: "x", count: 100_000)])
        #expect(huge.utf8.count > 100_000)
        #expect(refusal(Fixture.verifier, huge) == "token longer than 8192 bytes")
    }

    @Test func maxTokenBytesBoundary() {
        // A token exactly at maxTokenBytes passes; one byte more is refused
        let token = Fixture.hs256()
        var config = Fixture.config([Fixture.hsKey])
        config.maxTokenBytes = token.utf8.count
        #expect(refusal(JWTVerifier(config), token) == nil)
        config.maxTokenBytes = token.utf8.count - 1
        #expect(refusal(JWTVerifier(config), token) != nil)
    }

    @Test func nonJSONHeaderOrPayloadIsRejected() {
        // Headers or payloads that are not one JSON object are refused
        let payloads = ["not json", "[1,2]", #""string""#, "null", "{", #"{"sub":1,}"#, #"{"a":01}"#,
                        #"{"a":"\u00"}"#, #"{"a":"\ud800"}"#, "{}{}", #"{"a":1} x"#, #"{'a':1}"#, "\u{FEFF}{}"]
        for payload in payloads {
            #expect(refusal(Fixture.verifier, Fixture.rawHS256(header: #"{"alg":"HS256"}"#, payload: payload)) != nil)
        }
        for header in ["HS256", #"["HS256"]"#, #"{"alg":"HS256""#] {
            #expect(refusal(Fixture.verifier, Fixture.rawHS256(header: header, payload: Fixture.validPayloadJSON)) != nil)
        }
    }

    @Test func invalidUTF8InPayloadIsRejected() {
        // Raw bytes that are not UTF-8 inside a JSON string are refused
        let payload: [UInt8] = Array(#"{"sub":""#.utf8) + [0xff, 0xfe] + Array(#"","org":"\#(Fixture.orgID)","exp":\#(Fixture.now + 60)}"#.utf8)
        let input = Fixture.b64(#"{"alg":"HS256"}"#) + "." + Base64URL.encode(payload)
        let token = input + "." + Base64URL.encode(HMAC.sha256(key: Fixture.hmacSecret, message: Array(input.utf8)))
        #expect(refusal(Fixture.verifier, token) != nil)
    }

    @Test func deeplyNestedJSONIsRejectedWithoutCrashing() {
        // 3000 nested arrays in a claim are refused, not a stack overflow
        let deep = String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)
        let payload = #"{"sub":"\#(Fixture.userID)","org":"\#(Fixture.orgID)","exp":\#(Fixture.now + 60),"x":\#(deep)}"#
        var config = Fixture.config([Fixture.hsKey])
        config.maxTokenBytes = 100_000
        #expect(refusal(JWTVerifier(config), Fixture.rawHS256(header: #"{"alg":"HS256"}"#, payload: payload)) != nil)
    }

    @Test func duplicateClaimsAreRejected() {
        // Duplicated names in the payload or header are refused, also when spelled with escapes or nested
        let u = Fixture.userID, o = Fixture.orgID, e = Fixture.now + 60
        let payloads = [
            #"{"sub":"\#(u)","org":"\#(o)","exp":\#(e),"sub":"00000000-0000-0000-0000-000000000001"}"#,
            #"{"sub":"\#(u)","org":"\#(o)","exp":\#(e),"role":"member","role":"admin"}"#,
            #"{"sub":"\#(u)","org":"\#(o)","exp":\#(e),"s\u0075b":"\#(u)"}"#,
            #"{"sub":"\#(u)","org":"\#(o)","exp":\#(e),"exp":\#(e + 100000)}"#,
            #"{"sub":"\#(u)","org":"\#(o)","exp":\#(e),"x":{"a":1,"a":2}}"#,
        ]
        for payload in payloads {
            #expect(refusal(Fixture.verifier, Fixture.rawHS256(header: #"{"alg":"HS256"}"#, payload: payload))
                    == "payload is not a JSON object (or has duplicated names)")
        }
        let header = #"{"alg":"HS256","alg":"none"}"#
        #expect(refusal(Fixture.verifier, Fixture.rawHS256(header: header, payload: Fixture.validPayloadJSON))
                == "header is not a JSON object (or has duplicated names)")
    }

    @Test func randomMutationsNeverVerifyOrCrash() throws {
        // 3000 random byte edits of valid tokens are all refused, none crashes
        let tokens = [Fixture.hs256(),
                      try JWTSigner.es256(privateKey: Fixture.ecKey, claims: Fixture.claims()),
                      try JWTSigner.rs256(privateKey: Fixture.rsaKey, claims: Fixture.claims())]
        let verifier = Fixture.verifier
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u{0}é".utf8)
        var accepted = 0
        for round in 0..<3000 {
            var bytes = Array(tokens[round % 3].utf8)
            for _ in 0..<Int.random(in: 1...3) {
                let i = Int.random(in: 0..<bytes.count)
                switch Int.random(in: 0..<3) {
                case 0: bytes[i] = alphabet.randomElement() ?? 0
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet.randomElement() ?? 0, at: i)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if text != tokens[round % 3], (try? verifier.verify(text, now: Fixture.now)) != nil { accepted += 1 }
        }
        #expect(accepted == 0)
        for _ in 0..<500 {
            let garbage = String(decoding: SecureRandom.bytes(Int.random(in: 0...200)), as: UTF8.self)
            #expect((try? verifier.verify(garbage, now: Fixture.now)) == nil)
        }
    }
}

@Suite struct TimeClaimTests {
    @Test func expiredTokenIsRejected() {
        // exp more than the leeway in the past is refused
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": Fixture.now - 31])) == "token expired")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": Fixture.now - 86400])) == "token expired")
    }

    @Test func notYetValidTokenIsRejected() {
        // nbf more than the leeway in the future is refused
        #expect(refusal(Fixture.verifier, Fixture.hs256(["nbf": Fixture.now + 31])) == "token not yet valid")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["nbf": Fixture.now - 5])) == nil)
    }

    @Test func leewayBoundaries() {
        // Within 30 s of exp or nbf passes, exactly at the edge passes, one second over fails
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": Fixture.now - 30])) == nil)
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": Fixture.now - 1])) == nil)
        #expect(refusal(Fixture.verifier, Fixture.hs256(["nbf": Fixture.now + 30])) == nil)
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": Double(Fixture.now) - 30.5])) == "token expired")
        var strict = Fixture.config([Fixture.hsKey])
        strict.leewaySeconds = 0
        #expect(refusal(JWTVerifier(strict), Fixture.hs256(["exp": Fixture.now])) == nil)
        #expect(refusal(JWTVerifier(strict), Fixture.hs256(["exp": Fixture.now - 1])) == "token expired")
        #expect(refusal(JWTVerifier(strict), Fixture.hs256(["nbf": Fixture.now + 1])) == "token not yet valid")
    }

    @Test func expIsRequiredAndNumeric() {
        // Missing, string, boolean, null or out-of-range exp is refused
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": NSNull()])) == "exp missing")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": String(Fixture.now + 60)])) == "exp is not a number")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["exp": true])) == "exp is not a number")
        let u = Fixture.userID, o = Fixture.orgID
        for exp in ["null", "1e400", "1e300", "[1]"] {
            let token = Fixture.rawHS256(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"\#(u)","org":"\#(o)","exp":\#(exp)}"#)
            #expect(refusal(Fixture.verifier, token) != nil)
        }
    }

    @Test func nbfAndIatMustBeNumeric() {
        // nbf and iat, when present, must be numbers
        #expect(refusal(Fixture.verifier, Fixture.hs256(["nbf": "0"])) == "nbf is not a number")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["iat": "yesterday"])) == "iat is not a number")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["iat": Double(Fixture.now) - 0.5])) == nil)
    }
}

@Suite struct IssuerAudienceTests {
    static let verifier = JWTVerifier(Fixture.config([Fixture.hsKey], issuer: "https://auth.example", audience: "depot"))

    @Test func matchingIssuerAndAudiencePass() {
        // iss equal and aud equal (string) or contained (array) pass
        #expect(refusal(Self.verifier, Fixture.hs256(["iss": "https://auth.example", "aud": "depot"])) == nil)
        #expect(refusal(Self.verifier, Fixture.hs256(["iss": "https://auth.example", "aud": ["other", "depot"]])) == nil)
    }

    @Test func wrongIssuerIsRejected() {
        // A different, differently cased, suffixed, missing or non-string iss is refused
        for iss in ["https://evil.example", "https://AUTH.example", "https://auth.example/", 42] as [Any] {
            #expect(refusal(Self.verifier, Fixture.hs256(["iss": iss, "aud": "depot"])) == "iss does not match")
        }
        #expect(refusal(Self.verifier, Fixture.hs256(["aud": "depot"])) == "iss does not match")
    }

    @Test func wrongAudienceIsRejected() {
        // A different aud, an array without it, a missing aud or an array with non-strings is refused
        let iss = "https://auth.example"
        #expect(refusal(Self.verifier, Fixture.hs256(["iss": iss, "aud": "depot-admin"])) == "aud does not match")
        #expect(refusal(Self.verifier, Fixture.hs256(["iss": iss, "aud": ["a", "b"]])) == "aud does not match")
        #expect(refusal(Self.verifier, Fixture.hs256(["iss": iss, "aud": [String]()])) == "aud does not match")
        #expect(refusal(Self.verifier, Fixture.hs256(["iss": iss])) == "aud missing")
        #expect(refusal(Self.verifier, Fixture.hs256(["iss": iss, "aud": ["depot", 1] as [Any]])) == "aud array holds a non-string")
    }

    @Test func issuerComparisonIsByteExact() {
        // A canonically equivalent but differently encoded iss ("e" + combining acute vs "é") is refused
        let verifier = JWTVerifier(Fixture.config([Fixture.hsKey], issuer: "caf\u{E9}"))
        #expect(refusal(verifier, Fixture.hs256(["iss": "caf\u{E9}"])) == nil)
        #expect(refusal(verifier, Fixture.hs256(["iss": "cafe\u{301}"])) == "iss does not match")
    }

    @Test func unconfiguredIssuerAndAudienceAreIgnored() {
        // Without configured iss/aud, any values (or none) are accepted
        #expect(refusal(Fixture.verifier, Fixture.hs256(["iss": "anyone", "aud": ["x"]])) == nil)
    }
}

@Suite struct SubjectClaimTests {
    @Test func nonUUIDSubIsRejected() {
        // sub must be a hyphenated UUID string: other forms and types are refused
        let bad: [Any] = ["42", "3f2504e04f8911d39a0c0305e82c3301", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
                          " 3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3f2504e0-4f89-11d3-9a0c-0305e82c330g",
                          "3f2504e0-4f89-11d3-9a0c-0305e82c33011", "3f2504e0_4f89_11d3_9a0c_0305e82c3301",
                          "", 42, ["3f2504e0-4f89-11d3-9a0c-0305e82c3301"]]
        for sub in bad {
            #expect(refusal(Fixture.verifier, Fixture.hs256(["sub": sub])) == "sub missing or not a UUID")
        }
        #expect(refusal(Fixture.verifier, Fixture.hs256(["sub": NSNull()])) == "sub missing or not a UUID")
    }

    @Test func orgIsRequiredUUID() {
        // org missing or not a UUID is refused; an uppercase org is returned lowercased
        #expect(refusal(Fixture.verifier, Fixture.hs256(["org": NSNull()])) == "org missing or not a UUID")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["org": "acme"])) == "org missing or not a UUID")
        let identity = try? Fixture.verifier.verify(Fixture.hs256(["org": Fixture.orgID.uppercased()]), now: Fixture.now)
        #expect(identity?.organizationID == Fixture.orgID)
    }

    @Test func badRoleIsRejected() {
        // role other than member/admin (including case variants and non-strings) is refused
        for role in ["owner", "Admin", "ADMIN", "", " admin"] {
            #expect(refusal(Fixture.verifier, Fixture.hs256(["role": role])) == "role not member or admin")
        }
        #expect(refusal(Fixture.verifier, Fixture.hs256(["role": 1])) == "role is not a string")
        #expect(refusal(Fixture.verifier, Fixture.hs256(["role": ["admin"]])) == "role is not a string")
    }

    @Test func badAccountTypeIsRejected() {
        // acct other than individual/organization is refused
        for acct in ["team", "Organization", ""] {
            #expect(refusal(Fixture.verifier, Fixture.hs256(["acct": acct])) == "acct not individual or organization")
        }
        #expect(refusal(Fixture.verifier, Fixture.hs256(["acct": false])) == "acct is not a string")
    }
}
