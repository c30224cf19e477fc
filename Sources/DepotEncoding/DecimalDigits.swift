/// Zero-padded decimal numbers for dates and durations, without
/// Foundation's `String(format:)`, which costs microseconds (timestamps are
/// written for every file in a listing and every store request).
public enum DecimalDigits {
    /// Appends exactly `width` digits of `value` (which must not be
    /// negative), zero-padded on the left; higher digits are dropped.
    public static func append(_ value: Int, width: Int, to out: inout [UInt8]) {
        precondition(value >= 0 && width > 0, "DecimalDigits: negative value or empty width")
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8((v / divisor) % 10))
            v %= divisor
            divisor /= 10
        }
    }

    /// `value` as exactly `width` digits: `padded(7, width: 3) == "007"`.
    public static func padded(_ value: Int, width: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(width)
        append(value, width: width, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
