import Foundation

public struct HTTPResponse {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from an already-serialized object.
    public static func json(_ status: Int, _ object: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers,
                     body: object.serializedBytes())
    }

    public static func noContent() -> HTTPResponse { HTTPResponse(status: 204) }

    public static let reasonPhrases: [Int: String] = [
        200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content", 302: "Found",
        304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
        404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
        413: "Content Too Large", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
        422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
        503: "Service Unavailable",
    ]
}

extension HTTPResponse {
    /// The user nginx's access log line names (`user=`): a header nginx
    /// logs and hides (`fastcgi_hide_header`), never sent to the client.
    /// nginx writes the one line per request; workers write none.
    public var logUserID: String? {
        get { headers.first { $0.0 == HTTPResponse.logUserHeader }?.1 }
        set {
            headers.removeAll { $0.0 == HTTPResponse.logUserHeader }
            if let v = newValue { headers.append((HTTPResponse.logUserHeader, v)) }
        }
    }

    static let logUserHeader = "X-Depot-Log-User"
}
