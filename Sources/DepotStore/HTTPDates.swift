import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Parses the two date forms S3 uses, without DateFormatter.
enum HTTPDates {
    /// "2026-11-30T10:15:00Z" or "2026-11-30T10:15:00.123Z" (UTC).
    static func parseISO8601(_ text: String) -> Date? {
        let s = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        guard s.count >= 20, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"),
              s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: " "),
              s[13] == UInt8(ascii: ":"), s[16] == UInt8(ascii: ":"),
              let year = number(s, 0, 4), let month = number(s, 5, 2), let day = number(s, 8, 2),
              let hour = number(s, 11, 2), let minute = number(s, 14, 2), let second = number(s, 17, 2)
        else { return nil }
        var fraction = 0.0
        var i = 19
        if i < s.count, s[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < s.count, s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") {
                fraction += Double(s[i] - UInt8(ascii: "0")) * scale
                scale /= 10
                i += 1
            }
        }
        guard i < s.count, s[i] == UInt8(ascii: "Z") || s[i] == UInt8(ascii: "+") else { return nil }
        guard let base = epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return Date(timeIntervalSince1970: base + fraction)
    }

    /// RFC 1123: "Mon, 30 Nov 2026 10:15:00 GMT".
    static func parseRFC1123(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6,
              let day = Int(parts[1]), let year = Int(parts[3]),
              let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
              let base = epoch(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return Date(timeIntervalSince1970: base)
    }

    private static func number(_ s: [UInt8], _ start: Int, _ count: Int) -> Int? {
        var value = 0
        for i in start..<(start + count) {
            guard s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(s[i] - UInt8(ascii: "0"))
        }
        return value
    }

    private static func epoch(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Double? {
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Double(timegm(&parts))
    }
}
