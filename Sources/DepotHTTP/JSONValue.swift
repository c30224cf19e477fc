import DepotEncoding
import Foundation

/// A small JSON value with deterministic, fast serialization (key order kept).
public enum JSONValue: Equatable, ExpressibleByDictionaryLiteral, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral, ExpressibleByBooleanLiteral {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
    /// JSON already written (with `appendString` and `appendInteger`): a
    /// view that listings repeat writes itself straight into bytes instead
    /// of building a tree per row.
    case raw([UInt8])

    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    public static func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.serialized() == b.serialized() }

    public func serialized() -> String { String(decoding: serializedBytes(), as: UTF8.self) }

    /// UTF-8 JSON, written byte by byte into one buffer (this runs for every
    /// response, so no Foundation formatting and no intermediate strings).
    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += Self.nullBytes
        case .bool(let b): out += b ? Self.trueBytes : Self.falseBytes
        case .int(let i): Self.appendInteger(i, to: &out)
        case .double(let d):
            if !d.isFinite {
                out += Self.nullBytes
            } else if d == d.rounded() && abs(d) < 1e15 {
                out += String(Int64(d)).utf8
            } else {
                out += String(d).utf8
            }
        case .string(let s): JSONValue.appendString(s, to: &out)
        case .raw(let bytes): out += bytes
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.appendString(k, to: &out)
                out.append(UInt8(ascii: ":"))
                v.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let nullBytes = Array("null".utf8)
    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)

    /// Decimal digits without an intermediate String (counts and sizes fill
    /// every listing).
    public static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 19 digits, written backwards
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                n += 1
                buffer[24 - n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            out.append(contentsOf: buffer[(24 - n)..<24])
        }
    }

    /// Bytes that end a run of plain bytes: the quote, the backslash, control
    /// characters, DEL, and 0xE2 (the lead byte of U+2028 and U+2029).
    @inline(__always)
    private static func isStop(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F || b == 0xE2 }

    /// Whether any of eight bytes is below 0x20, a quote, a backslash, or
    /// 0x7F and above (a superset of `isStop`: non-ASCII goes byte by byte),
    /// with the classic "has a zero byte" test: (x - 0x01…) & ~x & 0x80….
    @inline(__always)
    private static func hasStop(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
        let control = (w &- 0x2020_2020_2020_2020) & ~w & highs   // a byte < 0x20 (exact when no byte >= 0x80)
        let quote = hasZero(w ^ 0x2222_2222_2222_2222)
        let backslash = hasZero(w ^ 0x5C5C_5C5C_5C5C_5C5C)
        let high = (w &+ 0x0101_0101_0101_0101) & highs | w & highs   // 0x7F and above
        return (control | quote | backslash | high) != 0
    }

    /// `s` as a quoted JSON string.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = s
        text.withUTF8 { buf in
            guard let base = buf.baseAddress else { return }
            let count = buf.count
            // Copy runs of plain bytes in one go; escape the rest.
            var runStart = 0
            var i = 0
            while true {
                // Eight bytes at a time while none of them needs a look.
                while i + 8 <= count && !hasStop(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { i += 8 }
                while i < count && !isStop(base[i]) { i += 1 }
                out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart))
                if i == count { break }
                let b = base[i]
                i += 1
                switch b {
                case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0xE2:
                    // U+2028 and U+2029 break JavaScript string literals.
                    if i + 1 < count && base[i] == 0x80 && (base[i + 1] == 0xA8 || base[i + 1] == 0xA9) {
                        out += Array("\\u202".utf8) + [base[i + 1] == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9")]
                        i += 2
                    } else {
                        out.append(b)
                    }
                default:
                    out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
                    Hex.append(b, to: &out)
                }
                runStart = i
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
