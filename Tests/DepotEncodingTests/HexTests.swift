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
