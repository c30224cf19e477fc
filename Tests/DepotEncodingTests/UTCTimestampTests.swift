import DepotEncoding
import Testing

@Suite struct UTCTimestampTests {
    @Test func stylesShareTheFields() {
        // The same instant in RFC 3339, ISO 8601 basic and a custom style.
        #expect(UTCTimestamp.format(1_796_033_700, .rfc3339) == "2026-11-30T10:15:00Z")
        #expect(UTCTimestamp.format(1_796_033_700, .basic) == "20261130T101500Z")
        let keyStyle = UTCTimestamp.Style(dateSeparator: "", dateTimeSeparator: "_", timeSeparator: "", suffix: "")
        #expect(UTCTimestamp.format(1_796_033_700, keyStyle) == "20261130_101500")
    }

    @Test func beforeTheEpoch() {
        // One second before the epoch is the last second of 1969.
        #expect(UTCTimestamp.format(-1, .rfc3339) == "1969-12-31T23:59:59Z")
    }
}
