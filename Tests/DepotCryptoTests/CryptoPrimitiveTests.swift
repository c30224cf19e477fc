import DepotCrypto
import DepotEncoding
import Foundation
import Testing

/// Known-answer tests for the DepotCrypto primitives the JWT layer rests on.
@Suite struct CryptoPrimitiveTests {
    @Test func hmacSHA256RFC4231Case2() {
        // HMAC-SHA256, RFC 4231 test case 2: key "Jefe", "what do ya want for nothing?"
        let mac = HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMAC.checkedSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)) == mac)
        #expect(HMAC.verifySHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8), mac: mac))
    }

    @Test func hmacSHA256EmptyKeyAndMessage() {
        // HMAC-SHA256 with an empty key and empty message has a well-known value
        let expected = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        #expect(HMAC.checkedSHA256(key: [], message: []).map(Hex.encode) == expected)
        #expect(Hex.encode(HMAC.sha256(key: [UInt8](), message: [UInt8]())) == expected)
        // ...but the verifier refuses an empty key outright
        #expect(!HMAC.verifySHA256(key: [], message: [], mac: Hex.decode(expected) ?? []))
    }

    @Test func hmacVerifyRejectsWrongTagsAndLengths() {
        // verifySHA256 refuses a flipped bit, a truncated tag, an all-zero tag
        let key = Array("k".utf8), msg = Array("m".utf8)
        var mac = HMAC.sha256(key: key, message: msg)
        #expect(HMAC.verifySHA256(key: key, message: msg, mac: mac))
        #expect(!HMAC.verifySHA256(key: key, message: msg, mac: Array(mac.prefix(31))))
        #expect(!HMAC.verifySHA256(key: key, message: msg, mac: [UInt8](repeating: 0, count: 32)))
        mac[0] ^= 1
        #expect(!HMAC.verifySHA256(key: key, message: msg, mac: mac))
    }

    @Test func hkdfSHA256RFC5869Case1() {
        // HKDF-SHA256, RFC 5869 test case 1
        let okm = HKDF.sha256(key: [UInt8](repeating: 0x0b, count: 22),
                              salt: Hex.decode("000102030405060708090a0b0c") ?? [],
                              info: Hex.decode("f0f1f2f3f4f5f6f7f8f9") ?? [],
                              length: 42)
        #expect(Hex.encode(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func hkdfSHA256RFC5869Case3EmptySaltAndInfo() {
        // HKDF-SHA256, RFC 5869 test case 3: zero-length salt and info
        let okm = HKDF.sha256(key: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], length: 42)
        #expect(Hex.encode(okm) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }
}
