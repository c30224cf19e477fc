import Foundation

/// Case-insensitive, order-preserving header list. Names are kept
/// lowercased, so a lookup is a plain comparison (this runs per request).
public struct HTTPHeaders: Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        for (n, v) in fields { add(n, v) }
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name.lowercased(), value)) }

    public subscript(name: String) -> String? {
        let wanted = name.lowercased()
        return fields.first { $0.name == wanted }?.value
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

/// Where a request body can be read from. nginx normally hands the worker a
/// temp file path; otherwise the body arrives on the FastCGI stream.
public enum RequestBody {
    case none
    /// A file nginx wrote; the path was checked by the adapter to lie inside
    /// the configured upload temp directory.
    case file(path: String, length: Int64)
    /// Bytes still on the wire. `read` returns 0 at end of body.
    case stream(length: Int64?, read: (UnsafeMutableRawBufferPointer) -> Int)
}

/// Query string parameters, decoded (`+` as space, `%XX`). Repeated names keep
/// the first value, which is what every route here wants.
public struct QueryParameters {
    public private(set) var pairs: [(String, String)] = []

    public init(_ raw: String) {
        guard !raw.isEmpty else { return }
        for piece in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentEncoding.decodeQueryComponent(parts[0]) ?? ""
            let value = parts.count > 1 ? (PercentEncoding.decodeQueryComponent(parts[1]) ?? "\u{FFFD}") : ""
            pairs.append((name, value))
        }
    }

    public subscript(name: String) -> String? { pairs.first { $0.0 == name }?.1 }
}

public struct HTTPRequest {
    public var method: String
    /// The path exactly as the client sent it, still percent-encoded, no query.
    public var rawPath: String
    public var query: QueryParameters
    public var headers: HTTPHeaders
    public var remoteAddress: String
    public var requestID: String
    public var body: RequestBody

    public init(method: String, rawPath: String, query: QueryParameters, headers: HTTPHeaders,
                remoteAddress: String = "", requestID: String, body: RequestBody = .none) {
        self.method = method
        self.rawPath = rawPath
        self.query = query
        self.headers = headers
        self.remoteAddress = remoteAddress
        self.requestID = requestID
        self.body = body
    }

    /// The bearer token of the Authorization header, if it has that form
    /// (`Bearer` in any case, then spaces, then the token).
    public var bearerToken: String? {
        guard let value = headers["authorization"] else { return nil }
        let bytes = value.utf8
        guard bytes.count > 7 else { return nil }
        let scheme = bytes.prefix(6)
        guard String(decoding: scheme, as: UTF8.self).lowercased() == "bearer" else { return nil }
        var rest = bytes.dropFirst(6)
        guard rest.first == UInt8(ascii: " ") else { return nil }
        while rest.first == UInt8(ascii: " ") || rest.first == UInt8(ascii: "\t") { rest = rest.dropFirst() }
        while rest.last == UInt8(ascii: " ") || rest.last == UInt8(ascii: "\t") { rest = rest.dropLast() }
        return rest.isEmpty ? nil : String(decoding: rest, as: UTF8.self)
    }
}

public enum PercentEncoding {
    /// Decodes `%XX` escapes; nil when an escape is malformed or the result is not UTF-8.
    public static func decode<S: StringProtocol>(_ text: S, plusIsSpace: Bool = false) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(plusIsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func decodeQueryComponent<S: StringProtocol>(_ text: S) -> String? {
        decode(text, plusIsSpace: true)
    }

    /// Encodes everything but RFC 3986 unreserved characters.
    public static func encode(_ text: String) -> String {
        var out = ""
        let hex = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b & 0xF)]))
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
