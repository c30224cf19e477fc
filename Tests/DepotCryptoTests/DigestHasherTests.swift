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

@Suite struct ResumableSHA256Tests {
    @Test func aStateSavedAndRestoredGoesOnAsIfNeverStopped() throws {
        // Cut at every kind of place: inside a block, on a block boundary, after many blocks.
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 131) }
        for cut in [0, 1, 63, 64, 65, 4096, 9_999] {
            var first = ResumableSHA256()
            data[..<cut].withUnsafeBytes { first.update($0) }
            var second = try #require(ResumableSHA256(state: first.state))
            data[cut...].withUnsafeBytes { second.update($0) }
            #expect(second.digest() == DigestHasher.hash(.sha256, data), "cut at \(cut)")
        }
    }

    @Test func digestLeavesTheStateUsableAndBadStatesAreRefused() {
        var h = ResumableSHA256()
        Array("ab".utf8).withUnsafeBytes { h.update($0) }
        _ = h.digest()
        Array("c".utf8).withUnsafeBytes { h.update($0) }
        #expect(Hex.encode(h.digest()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ResumableSHA256(state: []) == nil)
        #expect(ResumableSHA256(state: [UInt8](repeating: 0, count: 7)) == nil)
    }

    @Test func sha1MatchesItsTestVector() {
        #expect(Hex.encode(DigestHasher.hash(.sha1, Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}
