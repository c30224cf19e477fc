import DepotHTTP
import Foundation
import Testing

@Suite struct JSONValueTests {
    /// Parses `text` with Foundation's strict parser, as a client would.
    func parse(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test func scalarsSerialize() {
        // null, booleans and integers use their JSON spelling.
        #expect(JSONValue.null.serialized() == "null")
        #expect(JSONValue.bool(true).serialized() == "true")
        #expect(JSONValue.bool(false).serialized() == "false")
        #expect(JSONValue.int(0).serialized() == "0")
        #expect(JSONValue.int(-42).serialized() == "-42")
        #expect(JSONValue.int(Int64.max).serialized() == "9223372036854775807")
        #expect(JSONValue.int(Int64.min).serialized() == "-9223372036854775808")
    }

    @Test func quotesAndBackslashesAreEscaped() {
        // A file name with quotes and backslashes cannot end the string early.
        let v = JSONValue.string("a\"b\\c\"")
        #expect(v.serialized() == #""a\"b\\c\"""#)
        #expect(parse(v.serialized()) as? String == "a\"b\\c\"")
    }

    @Test func commonControlCharactersUseShortEscapes() {
        // Newline, carriage return and tab use \n, \r, \t.
        #expect(JSONValue.string("a\nb\rc\td").serialized() == #""a\nb\rc\td""#)
    }

    @Test func otherControlCharactersUseUnicodeEscapes() {
        // NUL, other C0 controls and DEL become \u00XX.
        #expect(JSONValue.string("\u{0}\u{1}\u{8}\u{C}\u{1B}\u{1F}\u{7F}").serialized() == #""\u0000\u0001\u0008\u000c\u001b\u001f\u007f""#)
    }

    @Test func lineAndParagraphSeparatorsAreEscaped() {
        // U+2028 and U+2029 are escaped so the output is also safe as JavaScript.
        #expect(JSONValue.string("a\u{2028}b\u{2029}c").serialized() == #""a\u2028b\u2029c""#)
        #expect(JSONValue.string("\u{2028}").serialized() == #""\u2028""#)
        #expect(JSONValue.string("x\u{2029}").serialized() == #""x\u2029""#)
        // Other characters that start with the same byte pass as they are.
        #expect(JSONValue.string("\u{2026}\u{20AC}a\u{2027}\u{202A}").serialized() == "\"\u{2026}\u{20AC}a\u{2027}\u{202A}\"")
    }

    @Test func otherUnicodeIsWrittenAsIs() {
        // Non-ASCII text (accents, CJK, emoji, RTL override, U+2027/U+202A next to the separators) is written raw as UTF-8.
        let text = "caf\u{E9} \u{65E5}\u{672C} \u{1F600} \u{202E} \u{2027}\u{202A} /"
        #expect(JSONValue.string(text).serialized() == "\"\(text)\"")
        #expect(parse(JSONValue.string(text).serialized()) as? String == text)
    }

    @Test func everyScalarRoundTripsThroughAStrictParser() {
        // Strings made of every ASCII character and some tricky scalars parse back to themselves.
        var text = ""
        for v in 0..<0x80 { text.unicodeScalars.append(Unicode.Scalar(UInt8(v))) }
        text += "\u{80}\u{9F}\u{A0}\u{2028}\u{2029}\u{FFFF}\u{10FFFF}"
        let json = JSONValue.object([("k\u{0}\"", .string(text))]).serialized()
        let parsed = parse(json) as? [String: String]
        #expect(parsed?["k\u{0}\""] == text)
    }

    @Test func everyCharacterIsEscapedAtEveryPositionOfALongRun() {
        // Plain runs are scanned eight bytes at a time: each ASCII character and a few multi-byte ones, at each
        // offset of a 24-byte run, come out escaped exactly as the one-character string does, and parse back.
        let filler = Array("abcdefghijklmnopqrstuvwx")
        var specials = (0..<0x80).map { String(Unicode.Scalar(UInt8($0))) }
        specials += ["\u{E9}", "\u{2028}", "\u{2029}", "\u{2027}", "\u{1F600}", "\u{FFFF}"]
        for special in specials {
            let alone = JSONValue.string(special).serialized().dropFirst().dropLast()
            for position in 0...filler.count {
                let text = String(filler[..<position]) + special + String(filler[position...])
                let expected = "\"" + String(filler[..<position]) + alone + String(filler[position...]) + "\""
                #expect(JSONValue.string(text).serialized() == expected, "\(special.unicodeScalars.first!.value) at \(position)")
            }
        }
        let long = String(repeating: "0123456789abcdef", count: 64)
        #expect(parse(JSONValue.array([.string(long + "\"\u{1}" + long)]).serialized()) as? [String] == [long + "\"\u{1}" + long])
    }

    @Test func objectKeysKeepTheirOrder() {
        // Members come out in the order given, not sorted or hashed.
        let v: JSONValue = ["zeta": 1, "alpha": 2, "mid": ["b": true, "a": nil]]
        #expect(v.serialized() == #"{"zeta":1,"alpha":2,"mid":{"b":true,"a":null}}"#)
    }

    @Test func keysAreEscapedLikeValues() {
        // A key with a quote or newline is escaped.
        #expect(JSONValue.object([("a\"\n", "v")]).serialized() == #"{"a\"\n":"v"}"#)
    }

    @Test func arraysAndEmptyContainers() {
        // Arrays keep order; empty arrays and objects are [] and {}.
        let v: JSONValue = ["list": [1, "two", nil, false, []], "empty": .object([])]
        #expect(v.serialized() == #"{"list":[1,"two",null,false,[]],"empty":{}}"#)
    }

    @Test func wholeDoublesAreWrittenAsIntegers() {
        // 2.0, -3.0 and 0.0 serialize like integers.
        #expect(JSONValue.double(2).serialized() == "2")
        #expect(JSONValue.double(-3).serialized() == "-3")
        #expect(JSONValue.double(0).serialized() == "0")
        #expect(JSONValue.double(-0.0).serialized() == "0")
    }

    @Test func fractionalDoublesParseBackExactly() {
        // Fractions, tiny and huge values are valid JSON numbers that parse back to the same double.
        for d in [1.5, 0.1, -2.25, 33.333333333333336, 1e-7, 5e-324, 1e15, 1.5e15, 1e20, 1.7976931348623157e308, 99.99] {
            let text = JSONValue.double(d).serialized()
            #expect((parse(text) as? NSNumber)?.doubleValue == d, "\(d) -> \(text)")
            #expect(!text.contains("inf") && !text.contains("nan"), "\(text)")
        }
    }

    @Test func nonFiniteDoublesBecomeNull() {
        // Infinity and NaN have no JSON spelling: they become null.
        #expect(JSONValue.double(.infinity).serialized() == "null")
        #expect(JSONValue.double(-.infinity).serialized() == "null")
        #expect(JSONValue.double(.nan).serialized() == "null")
    }

    @Test func optionalHelperGivesNullOrString() {
        // .optional(nil) is null, .optional("x") a string.
        #expect(JSONValue.optional(nil).serialized() == "null")
        #expect(JSONValue.optional("x").serialized() == #""x""#)
    }

    @Test func equalityComparesTheSerializedForm() {
        // Two values are equal when they serialize the same, including key order.
        #expect(JSONValue.double(2) == JSONValue.int(2))
        #expect(JSONValue.object([("a", 1), ("b", 2)]) != JSONValue.object([("b", 2), ("a", 1)]))
    }
}
