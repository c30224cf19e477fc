import DepotCrypto
import DepotEncoding
import Testing

@Suite struct DigestHasherTests {
    @Test func md5OfABC() {
        // MD5("abc"), RFC 1321 test suite; 16 bytes.
        #expect(Hex.encode(DigestHasher.hash(.md5, Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(DigestAlgorithm.md5.length == 16)
    }

    @Test func sha256OfABC() {
        // SHA-256("abc"), FIPS 180-2 example
        #expect(Hex.encode(DigestHasher.hash(.sha256, Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let h = DigestHasher(.sha256)
        h.update(Array("a".utf8))
        h.update(Array("bc".utf8))
        #expect(Hex.encode(h.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func emptyInput() {
        // The digests of nothing (RFC 1321, FIPS 180-2).
        #expect(Hex.encode(DigestHasher.hash(.md5, [UInt8]())) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(Hex.encode(DigestHasher.hash(.sha256, [UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
