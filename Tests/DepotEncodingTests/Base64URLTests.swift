import DepotEncoding
import Testing

/// Random bytes for round trips (the codec does not care where they come from).
private func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

@Suite struct Base64URLTests {
    @Test func base64URLRoundTrip() {
        // Base64URL encodes without padding and decodes back, for every length 0...70
        for length in 0...70 {
            let bytes = randomBytes(length)
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xfb, 0xff])
    }

    @Test func base64URLRejectsPaddingAndStandardAlphabet() {
        // Base64URL.decode refuses '=', '+', '/', whitespace and impossible lengths
        #expect(Base64URL.decode("Zm8=") == nil)
        #expect(Base64URL.decode("Zg==") == nil)
        #expect(Base64URL.decode("+_8") == nil)
        #expect(Base64URL.decode("-/8") == nil)
        #expect(Base64URL.decode("Zm 9v") == nil)
        #expect(Base64URL.decode("Zm9v\n") == nil)
        #expect(Base64URL.decode("Z") == nil)
        #expect(Base64URL.decode("Zm9vY") == nil)
        #expect(Base64URL.decode("Zm9v") == Array("foo".utf8))
    }

    @Test func agreesWithBase64URLOnCanonicalInput() {
        // Every Base64URL encoding decodes back to the same bytes
        for length in 0...100 {
            let bytes = randomBytes(length)
            #expect(Base64URL.decode(Array(Base64URL.encode(bytes).utf8)) == bytes)
        }
    }

    @Test func refusesNonCanonicalAndForeignInput() {
        // Non-zero unused bits, padding, standard alphabet, impossible lengths are refused
        for text in ["Zh", "Zm9", "Zm8=", "+w", "/w", "Z", "Zm9vY", " Zg", "Zg\n", "Zé"] {
            #expect(Base64URL.decode(Array(text.utf8)) == nil, "\(text)")
        }
        #expect(Base64URL.decode(Array("Zm8".utf8)) == Array("fo".utf8))
        #expect(Base64URL.decode(Array("Zg".utf8)) == Array("f".utf8))
        #expect(Base64URL.decode([UInt8]()) == [])
    }

    @Test func randomStringsMatchBase64URLWhereCanonical() {
        // On random alphabet strings the decoder accepts exactly the canonical spellings Base64URL accepts
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for _ in 0..<2000 {
            let text = (0..<Int.random(in: 0...12)).map { _ in alphabet.randomElement() ?? 65 }
            let ours = Base64URL.decode(text)
            let theirs = Base64URL.decode(String(decoding: text, as: UTF8.self))
            let canonical = theirs.map { Base64URL.encode($0) == String(decoding: text, as: UTF8.self) } ?? false
            #expect(ours == (canonical ? theirs : nil))
        }
    }
}
