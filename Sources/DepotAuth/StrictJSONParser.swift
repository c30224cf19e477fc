/// A strict RFC 8259 parser for JWT headers and payloads.
///
/// Unlike `JSONSerialization`, it refuses duplicated member names (compared
/// after unescaping, at every level), invalid UTF-8, lone surrogates,
/// unescaped control characters, leading zeros, trailing data and nesting
/// deeper than `maxDepth`. It never traps: every error is `nil`.
struct StrictJSONParser {
    static let maxDepth = 32

    /// Parses `bytes` as one JSON object surrounded by optional whitespace.
    static func parseObject(_ bytes: [UInt8]) -> [String: StrictJSON]? {
        var parser = StrictJSONParser(bytes: bytes)
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{"), let value = parser.parseValue(depth: 0) else { return nil }
        parser.skipWhitespace()
        guard parser.index == bytes.count, case .object(let members) = value else { return nil }
        return members
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func skipWhitespace() {
        while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { index += 1 }
    }

    private mutating func expect(_ literal: String) -> Bool {
        for c in literal.utf8 {
            guard next() == c else { return false }
        }
        return true
    }

    private mutating func parseValue(depth: Int) -> StrictJSON? {
        guard depth <= Self.maxDepth else { return nil }
        skipWhitespace()
        guard let c = peek() else { return nil }
        switch c {
        case UInt8(ascii: "{"): return parseObjectBody(depth: depth)
        case UInt8(ascii: "["): return parseArrayBody(depth: depth)
        case UInt8(ascii: "\""): return parseString().map(StrictJSON.string)
        case UInt8(ascii: "t"): return expect("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return expect("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return expect("null") ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return parseNumber().map(StrictJSON.number)
        default: return nil
        }
    }

    private mutating func parseObjectBody(depth: Int) -> StrictJSON? {
        guard next() == UInt8(ascii: "{") else { return nil }
        var members: [String: StrictJSON] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\""), let name = parseString() else { return nil }
            skipWhitespace()
            guard next() == UInt8(ascii: ":") else { return nil }
            guard let value = parseValue(depth: depth + 1) else { return nil }
            // Duplicated names are refused: parsers disagree on which one wins.
            guard members.updateValue(value, forKey: name) == nil else { return nil }
            skipWhitespace()
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"): return .object(members)
            default: return nil
            }
        }
    }

    private mutating func parseArrayBody(depth: Int) -> StrictJSON? {
        guard next() == UInt8(ascii: "[") else { return nil }
        var elements: [StrictJSON] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            guard let value = parseValue(depth: depth + 1) else { return nil }
            elements.append(value)
            skipWhitespace()
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"): return .array(elements)
            default: return nil
            }
        }
    }

    private mutating func parseString() -> String? {
        guard next() == UInt8(ascii: "\"") else { return nil }
        var out: [UInt8] = []
        while true {
            guard let c = next() else { return nil }
            switch c {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = next() else { return nil }
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = parseUnicodeEscape() else { return nil }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                out.append(c)
            }
        }
    }

    /// The scalar of a `\uXXXX` escape (the `\u` already read), joining a
    /// surrogate pair; lone or reversed surrogates are errors.
    private mutating func parseUnicodeEscape() -> Unicode.Scalar? {
        guard let first = parseHex4() else { return nil }
        switch first {
        case 0xD800...0xDBFF:
            guard next() == UInt8(ascii: "\\"), next() == UInt8(ascii: "u"),
                  let second = parseHex4(), (0xDC00...0xDFFF).contains(second)
            else { return nil }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
        case 0xDC00...0xDFFF:
            return nil
        default:
            return Unicode.Scalar(first)
        }
    }

    private mutating func parseHex4() -> UInt32? {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = next() else { return nil }
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func parseNumber() -> Double? {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = next() else { return nil }
        if first == UInt8(ascii: "0") {
            if let c = peek(), isDigit(c) { return nil }
        } else if isDigit(first) {
            while let c = peek(), isDigit(c) { index += 1 }
        } else {
            return nil
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let c = peek(), isDigit(c) else { return nil }
            while let c = peek(), isDigit(c) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let c = peek(), isDigit(c) else { return nil }
            while let c = peek(), isDigit(c) { index += 1 }
        }
        guard index - start <= 64 else { return nil }
        return Double(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
