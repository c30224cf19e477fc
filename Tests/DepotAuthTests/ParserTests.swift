@testable import DepotAuth
import DepotCrypto
import DepotEncoding
import Testing

@Suite struct CanonicalBase64URLTests {
    @Test func agreesWithBase64URLOnCanonicalInput() {
        // Every Base64URL encoding decodes back to the same bytes
        for length in 0...100 {
            let bytes = SecureRandom.bytes(length)
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

@Suite struct StrictJSONParserTests {
    @Test func parsesAllValueKinds() {
        // Strings with escapes, numbers in every form, literals, arrays and nested objects
        let json = #"{"s":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00","n":[0,-1,1.5,2e3,-0.25E-2],"t":true,"f":false,"z":null,"o":{"k":[]}}"#
        let object = StrictJSONParser.parseObject(Array(json.utf8))
        #expect(object?["s"] == .string("a\"\\/\u{8}\u{c}\n\r\té😀"))
        #expect(object?["n"] == .array([.number(0), .number(-1), .number(1.5), .number(2000), .number(-0.0025)]))
        #expect(object?["t"] == .bool(true))
        #expect(object?["f"] == .bool(false))
        #expect(object?["z"] == .null)
        #expect(object?["o"] == .object(["k": .array([])]))
    }

    @Test func refusesWhatJSONSerializationWouldTolerate() {
        // Duplicates, bad numbers, bad escapes, lone surrogates, control characters, trailing data
        let bad = [#"{"a":1,"a":1}"#, #"{"a":1,"\u0061":2}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#,
                   #"{"a":+1}"#, #"{"a":1e}"#, #"{"a":NaN}"#, #"{"a":"\x"}"#, #"{"a":"\ud800"}"#,
                   #"{"a":"\udc00\ud800"}"#, "{\"a\":\"\u{1}\"}", #"{"a":1}}"#, #"{"a":tru}"#,
                   #"{"a" 1}"#, #"{"a":1,}"#, #"{,}"#, #"{"a":[1,]}"#, "", " ", "[]", #"{"a":1} {"#]
        for text in bad {
            #expect(StrictJSONParser.parseObject(Array(text.utf8)) == nil, "\(text)")
        }
    }

    @Test func depthIsLimited() {
        // 32 levels of nesting parse; 40 are refused
        func nested(_ depth: Int) -> String { "{\"a\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}" }
        #expect(StrictJSONParser.parseObject(Array(nested(31).utf8)) != nil)
        #expect(StrictJSONParser.parseObject(Array(nested(40).utf8)) == nil)
    }
}
