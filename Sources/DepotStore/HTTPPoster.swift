/// POSTs small bodies to arbitrary HTTP(S) URLs over one reused libcurl
/// handle (the event deliverer's client). Not thread-safe.
public final class HTTPPoster {
    private let connection: CurlConnection

    /// `timeout` bounds the whole request: a receiver that hangs costs at most that.
    public init(connectTimeoutSeconds: Int, timeoutSeconds: Int) {
        connection = CurlConnection(connectTimeout: connectTimeoutSeconds, requestTimeout: timeoutSeconds,
                                    lowSpeedTime: timeoutSeconds, caFile: nil)
    }

    /// The response status. Throws `HTTPPostError` when no complete answer arrived.
    public func post(url: String, headers: [(String, String)], body: [UInt8]) throws -> Int {
        do {
            return try connection.perform(method: "POST", url: url, headers: headers, body: .bytes(body), responseLimit: 4096).status
        } catch let failure as TransportFailure {
            throw HTTPPostError(message: failure.message)
        }
    }
}

public struct HTTPPostError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
