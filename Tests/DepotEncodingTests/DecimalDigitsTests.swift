import DepotEncoding
import Testing

@Suite struct DecimalDigitsTests {
    @Test func padsToTheWidth() {
        // Zero-padded on the left to exactly the width.
        #expect(DecimalDigits.padded(7, width: 3) == "007")
        #expect(DecimalDigits.padded(0, width: 2) == "00")
        #expect(DecimalDigits.padded(2026, width: 4) == "2026")
        #expect(DecimalDigits.padded(5, width: 1) == "5")
    }

    @Test func dropsDigitsAboveTheWidth() {
        // A value wider than the field keeps its low digits (dates never are).
        #expect(DecimalDigits.padded(12345, width: 4) == "2345")
    }

    @Test func appendsToWhatIsThere() {
        // Appends, never replaces.
        var out = Array("T".utf8)
        DecimalDigits.append(9, width: 2, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "T09")
    }
}
