/// Percent-encoding (RFC 3986 §2.1): one codec for URL components, S3
/// canonical requests and RFC 8187 header parameters; each caller chooses
/// which bytes are written as they are (`AllowedBytes`). Escapes are written
/// in uppercase hex and read in either case.
public enum PercentEncoding {
    /// The ASCII bytes `encode` leaves as they are; every other byte
    /// (non-ASCII included) becomes `%XX`.
    public struct AllowedBytes: Sendable {
        private var low: UInt64 = 0   // bytes 0..<64
        private var high: UInt64 = 0  // bytes 64..<128

        /// Letters, digits and the ASCII characters of `others`.
        public init(alphanumericsAnd others: String) {
            for b in UInt8(ascii: "A")...UInt8(ascii: "Z") { insert(b) }
            for b in UInt8(ascii: "a")...UInt8(ascii: "z") { insert(b) }
            for b in UInt8(ascii: "0")...UInt8(ascii: "9") { insert(b) }
            for b in others.utf8 {
                precondition(b < 0x80, "PercentEncoding.AllowedBytes: ASCII only")
                insert(b)
            }
        }

        private mutating func insert(_ b: UInt8) {
            if b < 64 { low |= 1 << UInt64(b) } else { high |= 1 << UInt64(b - 64) }
        }

        public func contains(_ b: UInt8) -> Bool {
            if b < 64 { return low & (1 << UInt64(b)) != 0 }
            if b < 128 { return high & (1 << UInt64(b - 64)) != 0 }
            return false
        }

        /// RFC 3986 unreserved characters: `A-Z a-z 0-9 - . _ ~`. What a URL
        /// component and S3's canonical query need.
        public static let unreserved = AllowedBytes(alphanumericsAnd: "-._~")
        /// Unreserved plus `/`: an S3 canonical URI, path segments encoded, separators kept.
        public static let unreservedAndSlash = AllowedBytes(alphanumericsAnd: "-._~/")
        /// RFC 8187 `attr-char`: the `filename*=UTF-8''…` value of Content-Disposition.
        public static let attrChar = AllowedBytes(alphanumericsAnd: "!#$&+-.^_`|~")
    }

    /// Encodes every UTF-8 byte of `text` outside `allowed` as `%XX` (uppercase hex).
    public static func encode(_ text: String, allowing allowed: AllowedBytes = .unreserved) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            if allowed.contains(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                Hex.append(b, to: &out, uppercase: true)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`, the
    /// form encoding of query strings); nil when an escape is malformed or
    /// the result is not UTF-8.
    public static func decode<S: StringProtocol>(_ text: S, plusIsSpace: Bool = false) -> String? {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        guard let bytes = decodeBytes(text.utf8, plusIsSpace: plusIsSpace) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Decodes `%XX` escapes into bytes, whatever they encode; nil when an
    /// escape is malformed (`%` not followed by two hex digits).
    public static func decodeBytes<C: Collection>(_ text: C, plusIsSpace: Bool = false) -> [UInt8]? where C.Element == UInt8 {
        let bytes = Array(text)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = Hex.value(bytes[i + 1]), let lo = Hex.value(bytes[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(plusIsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                i += 1
            }
        }
        return out
    }
}
