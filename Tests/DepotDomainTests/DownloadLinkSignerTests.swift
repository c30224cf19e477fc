import DepotDomain
import Testing

@Suite struct DownloadLinkSignerTests {
    let signer = DownloadLinkSigner(secret: Array("0123456789abcdef0123456789abcdef".utf8))
    let key = "organizations/o/files/u/report_20261130_101500_a1b2c3d4.pdf"
    let expires: Int64 = 1_796_033_700

    var signature: String { signer.signature(objectKey: key, disposition: .attachment, expires: expires) }

    @Test func freshSignatureIsValid() {
        // A link checked before its expiry is accepted.
        #expect(signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: signature, now: expires - 3600))
    }

    @Test func linkIsValidUpToItsExpirySecond() {
        // The expiry second itself is still valid; one second later it is not.
        #expect(signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: signature, now: expires))
        #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: signature, now: expires + 1))
    }

    @Test func signatureIsUnpaddedBase64URLOfAnHMACSHA256() {
        // The signature is 43 base64url characters (32 bytes, no padding) and the same for the same inputs.
        let s = signature
        #expect(s.count == 43)
        #expect(s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        #expect(s == signer.signature(objectKey: key, disposition: .attachment, expires: expires))
    }

    @Test func tamperedKeyIsRefused() {
        // The signature of one key does not open another.
        #expect(!signer.isValid(objectKey: key + "x", disposition: .attachment, expires: expires, signature: signature, now: 0))
        #expect(!signer.isValid(objectKey: "organizations/o/files/u/other.pdf", disposition: .attachment, expires: expires,
                                signature: signature, now: 0))
    }

    @Test func tamperedDispositionIsRefused() {
        // An attachment link cannot be turned into an inline one.
        #expect(!signer.isValid(objectKey: key, disposition: .inline, expires: expires, signature: signature, now: 0))
    }

    @Test func tamperedExpiryIsRefused() {
        // Moving the expiry later (or earlier) breaks the signature.
        #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires + 1, signature: signature, now: 0))
        #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires - 1, signature: signature, now: 0))
    }

    @Test func tamperedSignatureIsRefused() {
        // Changing any one character of the signature, or cutting it short, is refused.
        let chars = Array(signature)
        for i in chars.indices {
            var changed = chars
            changed[i] = chars[i] == "A" ? "B" : "A"
            #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: String(changed), now: 0), "position \(i)")
        }
        #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: String(chars.dropLast()), now: 0))
        #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: signature + "A", now: 0))
    }

    @Test func signatureDifferingOnlyInUnusedTrailingBitsIsRefused() {
        // 43 characters carry 258 bits for a 256-bit MAC; a last character that differs only in the 2 spare bits is another string, and refused.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let s = Array(signature)
        let last = alphabet.firstIndex(of: s[s.count - 1])!
        for spare in 1...3 {
            let variant = String(s.dropLast()) + String(alphabet[last ^ spare])
            #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: variant, now: 0), "\(variant)")
        }
    }

    @Test func otherSecretIsRefused() {
        // A link made with another server secret is refused.
        let other = DownloadLinkSigner(secret: Array("another secret of thirty-two b..".utf8))
        let forged = other.signature(objectKey: key, disposition: .attachment, expires: expires)
        #expect(forged != signature)
        #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: forged, now: 0))
    }

    @Test func nonBase64SignatureIsRefused() {
        // Empty, padded, standard-alphabet, whitespace or non-ASCII signatures are refused, never crash.
        let s = signature
        let standard = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        var bad: [String] = ["", "!!!!", "a", s + "=", s + " ", " " + s, s + "\n"]
        bad.append(String(s.prefix(20)) + "%" + String(s.dropFirst(21)))
        bad.append("\u{E9}" + String(s.dropFirst()))
        if standard != s { bad.append(standard) }
        for candidate in bad {
            #expect(!signer.isValid(objectKey: key, disposition: .attachment, expires: expires, signature: candidate, now: 0),
                    "\(candidate.debugDescription)")
        }
    }
}
