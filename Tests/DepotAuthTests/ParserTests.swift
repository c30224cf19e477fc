@testable import DepotAuth
import DepotCrypto
import DepotEncoding
import Testing

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
