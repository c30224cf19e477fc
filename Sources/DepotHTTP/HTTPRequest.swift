import DepotEncoding
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
            let name = PercentEncoding.decode(parts[0], plusIsSpace: true) ?? ""
            let value = parts.count > 1 ? (PercentEncoding.decode(parts[1], plusIsSpace: true) ?? "\u{FFFD}") : ""
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
