import CFastCGI
import DepotHTTP
import Foundation

/// Accepts FastCGI requests on an already-open listening socket and turns
/// each into an `HTTPRequest`. Single-threaded by design: one request at a
/// time per worker process, so libfcgi's request struct never crosses threads.
public final class FastCGIConnection {
    private let request: UnsafeMutablePointer<FCGX_Request>

    public init(listenDescriptor: Int32) {
        FCGX_Init()
        request = .allocate(capacity: 1)
        FCGX_InitRequest(request, listenDescriptor, 0)
    }

    deinit {
        FCGX_Free(request, 1)
        request.deallocate()
    }

    /// Waits for the next request; nil when libfcgi says to stop (SIGTERM or
    /// a closed socket).
    public func accept() -> HTTPRequest? {
        guard FCGX_Accept_r(request) >= 0 else { return nil }
        return makeRequest()
    }

    /// Writes the response and finishes the request.
    public func respond(_ response: HTTPResponse) {
        var head = "Status: \(response.status) \(HTTPResponse.reasonPhrases[response.status] ?? "Status")\r\n"
        var hasLength = false
        for (name, value) in response.headers where !name.hasPrefix(HTTPResponse.privatePrefix) {
            // Header values were built by us; still, never let a CR/LF through.
            guard !name.contains(where: { $0 == "\r" || $0 == "\n" || $0 == ":" }),
                  !value.contains(where: { $0 == "\r" || $0 == "\n" }) else { continue }
            if name.utf8.count == 14 && name.lowercased() == "content-length" { hasLength = true }
            head += "\(name): \(value)\r\n"
        }
        if !hasLength && response.status != 304 && !(response.headers.contains { $0.0 == "X-Accel-Redirect" }) {
            head += "Content-Length: \(response.body.count)\r\n"
        }
        head += "\r\n"
        write(Array(head.utf8))
        if !response.body.isEmpty { write(response.body) }
        FCGX_Finish_r(request)
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { c in
                _ = FCGX_PutStr(c.baseAddress, Int32(c.count), request.pointee.out)
            }
        }
    }

    private func param(_ name: String) -> String? {
        guard let value = FCGX_GetParam(name, request.pointee.envp) else { return nil }
        return String(cString: value)
    }

    private func makeRequest() -> HTTPRequest {
        var headers = HTTPHeaders()
        if var env = request.pointee.envp {
            while let entry = env.pointee {
                // HTTP_X_FOO=bar → x-foo: bar, byte by byte (this runs per header).
                if entry[0] == 0x48, entry[1] == 0x54, entry[2] == 0x54, entry[3] == 0x50, entry[4] == 0x5F {
                    var name: [UInt8] = []
                    var i = 5
                    while entry[i] != 0 && entry[i] != 0x3D {
                        let c = UInt8(bitPattern: entry[i])
                        name.append(c == 0x5F ? 0x2D : (c >= 0x41 && c <= 0x5A ? c + 32 : c))
                        i += 1
                    }
                    if entry[i] == 0x3D {
                        headers.add(String(decoding: name, as: UTF8.self), String(cString: entry + i + 1))
                    }
                }
                env += 1
            }
        }
        if let type = param("CONTENT_TYPE"), !type.isEmpty { headers.add("Content-Type", type) }
        let contentLength = param("CONTENT_LENGTH").flatMap { Int64($0) }
        if let contentLength { headers.add("Content-Length", String(contentLength)) }

        let uri = param("REQUEST_URI") ?? "/"
        let rawPath = String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/")
        let requestID = param("REQUEST_ID").flatMap { $0.isEmpty ? nil : $0 } ?? Self.newRequestID()

        // The body is read from the FastCGI stream as it arrives (nginx passes
        // uploads unbuffered); nothing is ever opened by a path nginx names.
        let body: RequestBody
        if (contentLength ?? 0) > 0 {
            let stream = request.pointee.in
            body = .stream(length: contentLength) { buffer in
                Self.readAvailable(stream, into: buffer)
            }
        } else {
            body = .none
        }

        return HTTPRequest(method: param("REQUEST_METHOD") ?? "GET", rawPath: rawPath,
                           query: QueryParameters(param("QUERY_STRING") ?? ""), headers: headers,
                           remoteAddress: param("REMOTE_ADDR") ?? "", requestID: requestID, body: body)
    }

    /// Reads what has arrived, waiting only while nothing has: FCGX_GetStr
    /// would wait until the whole buffer is full, so a client trickling its
    /// body would never be seen (nor judged too slow). libfcgi fills its
    /// buffer one FastCGI record at a time; one read returns at most that.
    static func readAvailable(_ stream: UnsafeMutablePointer<FCGX_Stream>?, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let stream, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let target = base.assumingMemoryBound(to: CChar.self)
        func buffered() -> Int {
            guard let next = stream.pointee.rdNext, let stop = stream.pointee.stop else { return 0 }
            return max(0, stop - next)
        }
        var count = 0
        if buffered() == 0 {
            // Blocks for the next record (or the end of the body).
            let c = FCGX_GetChar(stream)
            if c < 0 { return 0 }
            target[0] = CChar(truncatingIfNeeded: c)
            count = 1
        }
        let take = min(buffer.count - count, buffered())
        if take > 0 { count += max(0, Int(FCGX_GetStr(target + count, Int32(take), stream))) }
        return count
    }

    private static func newRequestID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
