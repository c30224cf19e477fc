import Foundation

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}

public enum Base64URL {
    /// Unpadded base64url (RFC 4648 §5).
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Strict decoder: only the base64url alphabet, no padding, no whitespace.
    public static func decode(_ text: Substring) -> [UInt8]? {
        var s = ""
        s.reserveCapacity(text.utf8.count + 3)
        for c in text.utf8 {
            switch c {
            case 0x41...0x5a, 0x61...0x7a, 0x30...0x39: s.unicodeScalars.append(Unicode.Scalar(c))
            case 0x2d: s.append("+")
            case 0x5f: s.append("/")
            default: return nil
            }
        }
        if s.utf8.count % 4 == 1 { return nil }
        while s.utf8.count % 4 != 0 { s.append("=") }
        guard let d = Data(base64Encoded: s) else { return nil }
        return Array(d)
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(Substring(text)) }
}
