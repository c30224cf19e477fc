import DepotEncoding
import Testing

@Suite struct HexTests {
    @Test func encodesLowercase() {
        // Two lowercase digits per byte.
        #expect(Hex.encode([0x00, 0x0f, 0xab, 0xff]) == "000fabff")
        #expect(Hex.encode([UInt8]()) == "")
    }

    @Test func decodesEitherCase() {
        // Upper and lower case digits decode to the same bytes.
        #expect(Hex.decode("000FabFF") == [0x00, 0x0f, 0xab, 0xff])
        #expect(Hex.decode("") == [])
    }

    @Test func refusesOddLengthsAndNonDigits() {
        // An odd length or a non-hex character gives nil.
        for text in ["a", "abc", "0g", "  ", "0x00", "é0"] {
            #expect(Hex.decode(text) == nil, "\(text)")
        }
    }
}

@Suite struct HexDigitTests {
    @Test func appendWritesTwoDigits() {
        // One byte, two digits, in the case asked for.
        var out: [UInt8] = []
        Hex.append(0xAB, to: &out)
        Hex.append(0x0C, to: &out, uppercase: true)
        #expect(String(decoding: out, as: UTF8.self) == "ab0C")
    }

    @Test func lowercaseCheck() {
        // Only 0-9 and a-f count as lowercase hex; the empty string trivially does.
        #expect(Hex.isLowercase("0123456789abcdef"))
        #expect(Hex.isLowercase(""))
        #expect(!Hex.isLowercase("0A"))
        #expect(!Hex.isLowercase("0g"))
    }
}
