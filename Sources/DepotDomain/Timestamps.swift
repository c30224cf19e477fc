import DepotEncoding

/// How the API writes times.
public enum Timestamps {
    /// RFC 3339 in UTC with seconds precision: `2026-11-30T10:15:00Z`.
    public static func rfc3339(_ seconds: Int64) -> String {
        UTCTimestamp.format(seconds, .rfc3339)
    }

    public static func appendRFC3339(_ seconds: Int64, to out: inout [UInt8]) {
        UTCTimestamp.append(seconds, .rfc3339, to: &out)
    }
}
