#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A Unix time written as zero-padded UTC calendar digits, with the
/// separators of one `Style`: RFC 3339 for the API, ISO 8601 basic for SigV4,
/// and whatever else (object keys) needs the same fields.
public enum UTCTimestamp {
    public struct Style: Sendable {
        /// Between year, month and day.
        public var dateSeparator: String
        /// Between the date and the time.
        public var dateTimeSeparator: String
        /// Between hours, minutes and seconds.
        public var timeSeparator: String
        /// After the seconds.
        public var suffix: String

        public init(dateSeparator: String, dateTimeSeparator: String, timeSeparator: String, suffix: String) {
            self.dateSeparator = dateSeparator
            self.dateTimeSeparator = dateTimeSeparator
            self.timeSeparator = timeSeparator
            self.suffix = suffix
        }

        /// `2026-11-30T10:15:00Z` (RFC 3339, seconds precision).
        public static let rfc3339 = Style(dateSeparator: "-", dateTimeSeparator: "T", timeSeparator: ":", suffix: "Z")
        /// `20261130T101500Z` (ISO 8601 basic format: SigV4's `x-amz-date`).
        public static let basic = Style(dateSeparator: "", dateTimeSeparator: "T", timeSeparator: "", suffix: "Z")
    }

    /// `seconds` since the epoch (before it too) in UTC, in `style`.
    public static func format(_ seconds: Int64, _ style: Style) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        append(seconds, style, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The same, appended to `out` (JSON listings write one per row).
    public static func append(_ seconds: Int64, _ style: Style, to out: inout [UInt8]) {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        DecimalDigits.append(Int(parts.tm_year) + 1900, width: 4, to: &out); out += style.dateSeparator.utf8
        DecimalDigits.append(Int(parts.tm_mon) + 1, width: 2, to: &out); out += style.dateSeparator.utf8
        DecimalDigits.append(Int(parts.tm_mday), width: 2, to: &out); out += style.dateTimeSeparator.utf8
        DecimalDigits.append(Int(parts.tm_hour), width: 2, to: &out); out += style.timeSeparator.utf8
        DecimalDigits.append(Int(parts.tm_min), width: 2, to: &out); out += style.timeSeparator.utf8
        DecimalDigits.append(Int(parts.tm_sec), width: 2, to: &out); out += style.suffix.utf8
    }
}
