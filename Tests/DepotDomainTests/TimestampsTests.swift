import DepotDomain
import Testing

@Suite struct TimestampsTests {
    @Test func contractExample() {
        // 1796033700 is the contract's example instant, 2026-11-30T10:15:00Z.
        #expect(Timestamps.rfc3339(1_796_033_700) == "2026-11-30T10:15:00Z")
    }

    @Test func epochAndLeapDay() {
        // The epoch and a leap day format with zero padding and a Z suffix.
        #expect(Timestamps.rfc3339(0) == "1970-01-01T00:00:00Z")
        #expect(Timestamps.rfc3339(951_868_799) == "2000-02-29T23:59:59Z")
    }

    @Test func pastThe32BitRollover() {
        // Instants after 2038-01-19T03:14:07Z are formatted correctly.
        #expect(Timestamps.rfc3339(2_147_483_648) == "2038-01-19T03:14:08Z")
    }

    @Test func beforeTheEpoch() {
        // One second before the epoch is the last second of 1969.
        #expect(Timestamps.rfc3339(-1) == "1969-12-31T23:59:59Z")
    }
}
