import DepotService
import Testing

@Suite struct ByteSizeTests {
    @Test func plainBytes() {
        // A plain integer is bytes.
        #expect(ByteSize.parse("5368709120") == 5_368_709_120)
        #expect(ByteSize.parse("0") == 0)
    }

    @Test func binarySuffixes() {
        // KiB, MiB, GiB and TiB are powers of 1024, with or without a space before the unit.
        #expect(ByteSize.parse("64KiB") == 65_536)
        #expect(ByteSize.parse("100MiB") == 104_857_600)
        #expect(ByteSize.parse("5GiB") == 5_368_709_120)
        #expect(ByteSize.parse("2TiB") == 2_199_023_255_552)
        #expect(ByteSize.parse("5 GiB") == 5_368_709_120)
    }

    @Test func unknownSpellingsAreRefused() {
        // Decimal units, lowercase units, fractions, words and bare units are not sizes.
        for text in ["", "GiB", "5GB", "5G", "5gib", "1.5GiB", "five", "5 MiB extra", "0x10", "5KB"] {
            #expect(ByteSize.parse(text) == nil, "\(text)")
        }
    }

    @Test func overflowingSizesAreRefusedNotFatal() {
        // A size beyond 8 EiB is refused instead of crashing the process.
        #expect(ByteSize.parse("9223372036854775808") == nil)
        #expect(ByteSize.parse("9999999TiB") == nil)
        #expect(ByteSize.parse("8589934592GiB") == nil)
        #expect(ByteSize.parse("8388607TiB") == 8_388_607 << 40)
    }
}
