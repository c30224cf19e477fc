import Foundation

/// Extracts the `boundary` parameter from a `Content-Type` header value.
///
/// The media type must be `multipart/form-data` (case-insensitive); anything
/// else throws `.malformed`, so a caller wanting `415` for a wrong type should
/// check the type first. The boundary may be a token or a quoted-string. It
/// must be 1–70 characters from RFC 2046's `bchars` (digits, letters and
/// `'()+_,-./:=?` and space, not ending in a space); otherwise
/// `.invalidBoundary`. No `boundary` parameter gives `.missingBoundary`.
public func multipartBoundary(fromContentType contentType: String) throws -> String {
    guard let parsed = ContentTypeHeader.Value.parse(Array(contentType.utf8)) else {
        throw MultipartError.malformed("unparsable Content-Type")
    }
    guard parsed.value.lowercased() == "multipart/form-data" else {
        throw MultipartError.malformed("Content-Type is not multipart/form-data")
    }
    guard let boundary = parsed.parameter("boundary") else {
        throw MultipartError.missingBoundary
    }
    guard ContentTypeHeader.isValidBoundary(boundary.value) else {
        throw MultipartError.invalidBoundary
    }
    return boundary.value
}

/// Header-value syntax shared by Content-Type and the parts' Content-Disposition.
enum ContentTypeHeader {
    /// RFC 2046 §5.1.1: `boundary := 0*69<bchars> bcharsnospace`.
    static func isValidBoundary(_ boundary: String) -> Bool {
        let bytes = Array(boundary.utf8)
        guard (1...70).contains(bytes.count), bytes.last != 0x20 else { return false }
        return bytes.allSatisfy { b in
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
            // ' ( ) + _ , - . / : = ? and space
            case 0x27, 0x28, 0x29, 0x2B, 0x5F, 0x2C, 0x2D, 0x2E, 0x2F, 0x3A, 0x3D, 0x3F, 0x20: return true
            default: return false
            }
        }
    }

    /// One `name=value` parameter of a header value such as
    /// `form-data; name="a"; filename="b.txt"`.
    struct Parameter {
        /// Lower-cased: parameter names are case-insensitive.
        let name: String
        /// The value with quoted-string quoting removed.
        let value: String
        let wasQuoted: Bool
    }

    /// A header value of the shape `primary *( ";" parameter )` — Content-Type and
    /// Content-Disposition both have it.
    ///
    /// Parsing works on UTF-8 bytes: every syntax character is ASCII and a
    /// multi-byte UTF-8 sequence never contains an ASCII byte, so raw UTF-8 inside
    /// a value passes through untouched. Quoted-strings: `\"` and `\\` are
    /// unescaped, any other backslash is kept literally (old browsers send
    /// `filename="C:\path\file"` unescaped; Python's `cgi` module behaves the same
    /// way). Browsers, curl and urllib3 follow the HTML form encoding instead,
    /// which never escapes a backslash (it writes `"` as `%22`): a value that
    /// ends in a backslash arrives as `name="a\"`. So a header that does not
    /// parse with backslash escapes is parsed once more without them. A `;`
    /// inside quotes does not split. Duplicate parameter names make the
    /// whole value invalid, since either choice could be the wrong one.
    struct Value {
        /// The leading token(s), e.g. `form-data` or `multipart/form-data`, as sent.
        let value: String
        let parameters: [Parameter]

        func parameter(_ name: String) -> Parameter? {
            parameters.first { $0.name == name }
        }

        /// Returns nil when the bytes are not a well-formed parameterized value
        /// or are not valid UTF-8.
        static func parse<C: Collection>(_ input: C) -> Value? where C.Element == UInt8 {
            let b = Array(input)
            return parse(b, backslashEscapes: true) ?? parse(b, backslashEscapes: false)
        }

        private static func parse(_ b: [UInt8], backslashEscapes: Bool) -> Value? {
            let n = b.count
            var i = 0

            func skipWhitespace() {
                while i < n, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
            }

            skipWhitespace()
            let primaryStart = i
            while i < n, isTokenByte(b[i]) || b[i] == 0x2F { i += 1 }
            guard i > primaryStart, let primary = decodeUTF8(b[primaryStart..<i]) else { return nil }
            skipWhitespace()

            var parameters: [Parameter] = []
            while i < n {
                guard b[i] == 0x3B else { return nil } // ';'
                i += 1
                skipWhitespace()
                if i == n || b[i] == 0x3B { continue } // empty parameter: tolerated
                let nameStart = i
                while i < n, isTokenByte(b[i]) { i += 1 }
                guard i > nameStart, let rawName = decodeUTF8(b[nameStart..<i]) else { return nil }
                skipWhitespace()
                guard i < n, b[i] == 0x3D else { return nil } // '='
                i += 1
                skipWhitespace()
                var value: [UInt8] = []
                var quoted = false
                if i < n, b[i] == 0x22 {
                    quoted = true
                    i += 1
                    var closed = false
                    while i < n {
                        let c = b[i]
                        if c == 0x22 { closed = true; i += 1; break }
                        if backslashEscapes, c == 0x5C, i + 1 < n, b[i + 1] == 0x22 || b[i + 1] == 0x5C {
                            value.append(b[i + 1])
                            i += 2
                            continue
                        }
                        if isControlByte(c) { return nil }
                        value.append(c)
                        i += 1
                    }
                    guard closed else { return nil }
                } else {
                    while i < n, b[i] != 0x3B, b[i] != 0x20, b[i] != 0x09 {
                        if b[i] == 0x22 || isControlByte(b[i]) { return nil }
                        value.append(b[i])
                        i += 1
                    }
                    guard !value.isEmpty else { return nil }
                }
                skipWhitespace()
                guard let text = decodeUTF8(value) else { return nil }
                let name = rawName.lowercased()
                guard !parameters.contains(where: { $0.name == name }) else { return nil }
                parameters.append(Parameter(name: name, value: text, wasQuoted: quoted))
            }
            return Value(value: primary, parameters: parameters)
        }
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        // ! # $ % & ' * + - . ^ _ ` | ~
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    /// C0 controls other than HTAB, and DEL.
    static func isControlByte(_ b: UInt8) -> Bool {
        (b < 0x20 && b != 0x09) || b == 0x7F
    }

    /// Strict UTF-8 decoding: nil when any sequence is invalid (instead of the
    /// replacement characters `String(decoding:as:)` would insert).
    static func decodeUTF8<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.utf8.elementsEqual(bytes) ? text : nil
    }
}
