import CFastCGI
import DepotHTTP
import Foundation

/// Accepts FastCGI requests on an already-open listening socket and turns
/// each into an `HTTPRequest`. Single-threaded by design: one request at a
/// time per worker process, so libfcgi's request struct never crosses threads.
public final class FastCGIConnection {
    private let request: UnsafeMutablePointer<FCGX_Request>
    private let bodyFileDirectory: String?

    /// `bodyFileDirectory`: the only directory whose files nginx may name in
    /// `REQUEST_BODY_FILE`; anything else is refused rather than opened.
    public init(listenDescriptor: Int32, bodyFileDirectory: String?) {
        FCGX_Init()
        request = .allocate(capacity: 1)
        FCGX_InitRequest(request, listenDescriptor, 0)
        self.bodyFileDirectory = bodyFileDirectory.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
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

        let body: RequestBody
        if let path = param("REQUEST_BODY_FILE"), !path.isEmpty, isAllowedBodyFile(path) {
            var info = stat()
            body = stat(path, &info) == 0 ? .file(path: path, length: Int64(info.st_size)) : .none
        } else if (contentLength ?? 0) > 0 {
            let stream = request.pointee.in
            body = .stream(length: contentLength) { buffer in
                guard let base = buffer.baseAddress else { return 0 }
                let n = FCGX_GetStr(base.assumingMemoryBound(to: CChar.self), Int32(min(buffer.count, Int(Int32.max))), stream)
                return max(0, Int(n))
            }
        } else {
            body = .none
        }

        return HTTPRequest(method: param("REQUEST_METHOD") ?? "GET", rawPath: rawPath,
                           query: QueryParameters(param("QUERY_STRING") ?? ""), headers: headers,
                           remoteAddress: param("REMOTE_ADDR") ?? "", requestID: requestID, body: body)
    }

    private func isAllowedBodyFile(_ path: String) -> Bool {
        guard let dir = bodyFileDirectory, path.hasPrefix(dir) else { return false }
        return !path.split(separator: "/").contains("..")
    }

    private static func newRequestID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
