import Foundation

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
