/// The name-value pairs of a request's PARAMS stream (FastCGI 1.0, section
/// 3.4): each length is one byte below 128, else four bytes with the top
/// bit set. Pairs are walked in place, as byte ranges of the stream.
struct FastCGIParameters {
    let bytes: [UInt8]

    /// Calls `body` with each pair's name and value ranges; false when a
    /// length runs past the end (a truncated or hostile stream).
    func forEach(_ body: (Range<Int>, Range<Int>) -> Void) -> Bool {
        var i = 0
        func length() -> Int? {
            guard i < bytes.count else { return nil }
            if bytes[i] < 0x80 {
                i += 1
                return Int(bytes[i - 1])
            }
            guard i + 4 <= bytes.count else { return nil }
            let n = Int(bytes[i] & 0x7f) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            i += 4
            return n
        }
        while i < bytes.count {
            guard let nameLength = length(), let valueLength = length(),
                  nameLength <= bytes.count - i, valueLength <= bytes.count - i - nameLength else { return false }
            let name = i..<(i + nameLength)
            let value = name.upperBound..<(name.upperBound + valueLength)
            i = value.upperBound
            body(name, value)
        }
        return true
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// Whether the bytes in `range` equal `name` (ASCII).
    func matches(_ range: Range<Int>, _ name: StaticString) -> Bool {
        guard range.count == name.utf8CodeUnitCount else { return false }
        let expected = name.utf8Start
        for (k, i) in range.enumerated() where bytes[i] != expected[k] { return false }
        return true
    }

    /// `HTTP_X_FOO` → `x-foo`; nil for a name that is not a header. nginx
    /// writes header names as A-Z, 0-9 and `_`; any other byte is refused
    /// (a name is a token, never text to interpret).
    func headerName(_ range: Range<Int>) -> String? {
        guard range.count > 5, bytes[range.lowerBound] == 0x48, bytes[range.lowerBound + 1] == 0x54,
              bytes[range.lowerBound + 2] == 0x54, bytes[range.lowerBound + 3] == 0x50,
              bytes[range.lowerBound + 4] == 0x5F else { return nil }
        var name = [UInt8]()
        name.reserveCapacity(range.count - 5)
        for i in (range.lowerBound + 5)..<range.upperBound {
            switch bytes[i] {
            case 0x5F: name.append(0x2D)
            case 0x41...0x5A: name.append(bytes[i] + 32)
            case 0x30...0x39, 0x61...0x7A: name.append(bytes[i])
            default: return nil
            }
        }
        return String(decoding: name, as: UTF8.self)
    }
}
