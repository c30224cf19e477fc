/// The base64url decoder for token parts: unpadded RFC 4648 §5 alphabet only,
/// and canonical — the unused low bits of the last character must be zero,
/// so every byte string has exactly one accepted spelling. Table-driven and
/// allocation-light: it runs on every request.
enum CanonicalBase64URL {
    private static let invalid: UInt8 = 0xFF

    private static let table: [UInt8] = {
        var t = [UInt8](repeating: invalid, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    static func decode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        guard text.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for c in text {
            let value = table[Int(c)]
            guard value != invalid else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Whatever is left is padding bits: non-zero means a second spelling.
        guard accumulator == 0 else { return nil }
        return out
    }
}
