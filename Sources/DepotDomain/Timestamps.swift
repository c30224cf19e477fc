import DepotEncoding
import Foundation

public enum Timestamps {
    /// RFC 3339 in UTC with seconds precision: `2026-11-30T10:15:00Z`.
    public static func rfc3339(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        var out: [UInt8] = []
        out.reserveCapacity(20)
        DecimalDigits.append(Int(tm.tm_year) + 1900, width: 4, to: &out); out.append(UInt8(ascii: "-"))
        DecimalDigits.append(Int(tm.tm_mon) + 1, width: 2, to: &out); out.append(UInt8(ascii: "-"))
        DecimalDigits.append(Int(tm.tm_mday), width: 2, to: &out); out.append(UInt8(ascii: "T"))
        DecimalDigits.append(Int(tm.tm_hour), width: 2, to: &out); out.append(UInt8(ascii: ":"))
        DecimalDigits.append(Int(tm.tm_min), width: 2, to: &out); out.append(UInt8(ascii: ":"))
        DecimalDigits.append(Int(tm.tm_sec), width: 2, to: &out); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}
