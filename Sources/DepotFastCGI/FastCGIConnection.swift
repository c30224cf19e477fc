import DepotHTTP
import Foundation

/// Set by SIGTERM or SIGUSR1 while the worker waits for a connection: both
/// mean "finish and exit", and the interrupted accept(2) returns at once.
nonisolated(unsafe) private var finishRequested: sig_atomic_t = 0

/// A FastCGI responder on an already-open listening socket: accepts nginx's
/// connections and turns each request into an `HTTPRequest`. Single-threaded
/// by design: one request at a time per worker process.
///
/// Invariants: a request's PARAMS are read whole before it is handed out;
/// its STDIN is read only as the handler pulls the body, so an upload is
/// judged before its bytes are taken; a request ends with an END_REQUEST
/// record, after which the connection is closed (nginx's `fastcgi_keep_conn
/// off`) or kept for the next request (`on`).
public final class FastCGIConnection {
    /// Bound on a request's PARAMS: nginx sends a few hundred bytes; more than this is not nginx.
    static let maxParameterBytes = 1 << 20

    private let listenDescriptor: Int32
    private var input: FastCGIInput?
    private var requestID: UInt16 = 0
    private var keepConnection = false
    /// STDIN state of the request in hand.
    private var stdinRecordLeft = 0
    private var stdinPaddingLeft = 0
    private var stdinEnded = true
    /// Run about every `wakeWhileWaiting` interval while `accept` waits.
    private var waitingWork: (() -> Void)?

    public init(listenDescriptor: Int32) {
        self.listenDescriptor = listenDescriptor
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in finishRequested = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0 // no SA_RESTART: accept(2) and poll(2) return EINTR
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGUSR1, &action, nil)
    }

    deinit { closeConnection(linger: false) }

    /// Has `accept` run `work` every `seconds` while it waits for a
    /// connection: a receive timeout on the listening socket, so accept(2)
    /// returns EAGAIN when no connection came. Polling first could not do
    /// it: another worker may take the connection between the poll and the
    /// accept, which then blocks. Every worker on the socket shares the
    /// timeout and just accepts again. Only a unix socket gets it: an
    /// accepted TCP connection would inherit it.
    public func wakeWhileWaiting(every seconds: Int, _ work: @escaping () -> Void) {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenDescriptor, $0, &length) }
        }
        guard named == 0, address.ss_family == sa_family_t(AF_UNIX) else { return }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        guard setsockopt(listenDescriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else { return }
        waitingWork = work
    }

    /// Waits for the next request; nil when told to stop (SIGTERM, SIGUSR1)
    /// or when the listening socket fails.
    public func accept() -> HTTPRequest? {
        while finishRequested == 0 {
            if input == nil {
                let fd = Glibc.accept(listenDescriptor, nil, nil)
                if fd < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK {
                        // The receive timeout: nobody connected for a while.
                        waitingWork?()
                        continue
                    }
                    if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE {
                        if errno == EMFILE || errno == ENFILE { usleep(100_000) }
                        continue
                    }
                    return nil
                }
                input = FastCGIInput(descriptor: fd)
            }
            if let request = readRequest() { return request }
            closeConnection(linger: false)
        }
        return nil
    }

    /// Writes the response and finishes the request.
    public func respond(_ response: HTTPResponse) {
        guard let input else { return }
        var head = "Status: \(response.status) \(HTTPResponse.reasonPhrases[response.status] ?? "Status")\r\n"
        var hasLength = false
        for (name, value) in response.headers {
            // Header values were built by us; still, never let a CR or LF
            // through (bytes, not Characters: "\r\n" is one Character).
            guard !name.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 58 }),
                  !value.utf8.contains(where: { $0 == 13 || $0 == 10 }) else { continue }
            if name.utf8.count == 14 && name.lowercased() == "content-length" { hasLength = true }
            head += "\(name): \(value)\r\n"
        }
        if !hasLength && response.status != 304 && !(response.headers.contains { $0.0 == "X-Accel-Redirect" }) {
            head += "Content-Length: \(response.body.count)\r\n"
        }
        head += "\r\n"

        var out = [UInt8]()
        out.reserveCapacity(head.utf8.count + response.body.count + 64)
        appendStdout(Array(head.utf8)[...], to: &out)
        appendStdout(response.body[...], to: &out)
        FastCGIRecordHeader.append(.stdout, requestID: requestID, contentLength: 0, to: &out)
        FastCGIRecordHeader.append(.endRequest, requestID: requestID, contentLength: 8, to: &out)
        out.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0]) // app status 0, FCGI_REQUEST_COMPLETE
        let written = writeAll(out, to: input.descriptor)

        if written && keepConnection && skipRestOfStdin() { return }
        // Once the body's end record is in hand nginx sends nothing more, so
        // closing cannot reset the connection: no need to wait for nginx to
        // close first (that wait idled the worker for each short request).
        closeConnection(linger: !(written && stdinEndIsBuffered()))
    }

    // MARK: - Reading a request

    private func readRequest() -> HTTPRequest? {
        guard let input else { return nil }
        var params = [UInt8]()
        var begun = false
        while true {
            guard let header = input.nextHeader() else { return nil }
            // Management records (request id 0) and other requests' records:
            // nginx multiplexes nothing, so they are read past.
            if header.requestID == 0 || (begun && header.requestID != requestID) {
                guard input.skip(header.contentLength + header.paddingLength) else { return nil }
                continue
            }
            switch FastCGIRecordType(rawValue: header.type) {
            case .beginRequest:
                var body = [UInt8]()
                guard header.contentLength == 8, input.read(8, into: &body), input.skip(header.paddingLength) else { return nil }
                requestID = header.requestID
                keepConnection = body[2] & 1 == 1
                let role = UInt16(body[0]) << 8 | UInt16(body[1])
                guard role == 1 else { // only the responder role
                    var out = [UInt8]()
                    FastCGIRecordHeader.append(.endRequest, requestID: requestID, contentLength: 8, to: &out)
                    out.append(contentsOf: [0, 0, 0, 0, 3, 0, 0, 0]) // FCGI_UNKNOWN_ROLE
                    _ = writeAll(out, to: input.descriptor)
                    return nil
                }
                begun = true
                params.removeAll()
            case .params where begun:
                if header.contentLength == 0 {
                    guard input.skip(header.paddingLength) else { return nil }
                    return makeRequest(FastCGIParameters(bytes: params))
                }
                guard params.count + header.contentLength <= Self.maxParameterBytes,
                      input.read(header.contentLength, into: &params), input.skip(header.paddingLength) else { return nil }
            case .abortRequest:
                return nil
            default:
                guard input.skip(header.contentLength + header.paddingLength) else { return nil }
            }
        }
    }

    private func makeRequest(_ params: FastCGIParameters) -> HTTPRequest? {
        var headers = HTTPHeaders()
        var method = "GET", uri = "/", remote = "", requestTag = ""
        var contentLength: Int64?
        let wellFormed = params.forEach { name, value in
            if let header = params.headerName(name) {
                headers.add(header, params.string(value))
            } else if params.matches(name, "REQUEST_METHOD") {
                method = params.string(value)
            } else if params.matches(name, "REQUEST_URI") {
                uri = params.string(value)
            } else if params.matches(name, "CONTENT_TYPE") {
                if !value.isEmpty { headers.add("Content-Type", params.string(value)) }
            } else if params.matches(name, "CONTENT_LENGTH") {
                contentLength = Int64(params.string(value))
            } else if params.matches(name, "REMOTE_ADDR") {
                remote = params.string(value)
            } else if params.matches(name, "REQUEST_ID") {
                requestTag = params.string(value)
            }
        }
        guard wellFormed else { return nil }
        if let contentLength { headers.add("Content-Length", String(contentLength)) }
        // Path and query both from the URI the client sent (not QUERY_STRING,
        // which is empty in an auth_request subrequest: the upload admission
        // must see the same query as the request it judges).
        let pieces = uri.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = pieces.first.map { String(decoding: $0, as: UTF8.self) } ?? "/"
        let query = pieces.count == 2 ? String(decoding: pieces[1], as: UTF8.self) : ""

        // The body is read from the connection as the handler pulls it (nginx
        // passes uploads unbuffered); nothing is ever opened by a path nginx names.
        stdinRecordLeft = 0
        stdinPaddingLeft = 0
        stdinEnded = false
        let body: RequestBody
        if (contentLength ?? 0) > 0 {
            body = .stream(length: contentLength) { [unowned self] buffer in self.readStdin(into: buffer) }
        } else {
            body = .none
        }
        return HTTPRequest(method: method, rawPath: rawPath, query: QueryParameters(query), headers: headers,
                           remoteAddress: remote, requestID: requestTag.isEmpty ? Self.newRequestID() : requestTag, body: body)
    }

    /// Reads what has arrived of the body, waiting only while nothing has: a
    /// client trickling its body is seen (and can be judged too slow). 0 at
    /// the end of the body, or when nginx gave up on the request.
    func readStdin(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let input, let base = buffer.baseAddress else { return 0 }
        var count = 0
        while count < buffer.count && !stdinEnded {
            if stdinRecordLeft > 0 {
                if input.buffered == 0 {
                    if count > 0 { break }
                    guard input.fill() else { stdinEnded = true; break }
                }
                let n = input.take(min(stdinRecordLeft, buffer.count - count), to: base + count)
                stdinRecordLeft -= n
                count += n
                continue
            }
            // Between records: go on only if the next header is already here.
            if count > 0 && input.buffered < stdinPaddingLeft + FastCGIRecordHeader.size { break }
            guard input.skip(stdinPaddingLeft), let header = input.nextHeader() else { stdinEnded = true; break }
            stdinPaddingLeft = 0
            if header.requestID != requestID || header.type != FastCGIRecordType.stdin.rawValue {
                if header.requestID == requestID && header.type == FastCGIRecordType.abortRequest.rawValue {
                    stdinEnded = true
                    break
                }
                guard input.skip(header.contentLength + header.paddingLength) else { stdinEnded = true; break }
                continue
            }
            if header.contentLength == 0 { // the empty record ends the body
                stdinEnded = true
                _ = input.skip(header.paddingLength)
                break
            }
            stdinRecordLeft = header.contentLength
            stdinPaddingLeft = header.paddingLength
        }
        return count
    }

    /// Whether the body's end record has arrived, judged from the bytes
    /// already read (what the handler left of the body is consumed): never waits.
    private func stdinEndIsBuffered() -> Bool {
        guard let input else { return false }
        while !stdinEnded {
            let rest = stdinRecordLeft + stdinPaddingLeft
            guard input.buffered >= rest + FastCGIRecordHeader.size, input.skip(rest), let header = input.nextHeader() else { return false }
            let ours = header.requestID == requestID
            if ours && (header.type == FastCGIRecordType.abortRequest.rawValue
                        || (header.type == FastCGIRecordType.stdin.rawValue && header.contentLength == 0)) {
                stdinEnded = true
            } else {
                // Body bytes, or a record of no interest: passed over alike.
                stdinRecordLeft = header.contentLength
                stdinPaddingLeft = header.paddingLength
            }
        }
        return true
    }

    /// Reads past what the handler left of the body, so a kept connection
    /// starts at the next request's first record.
    private func skipRestOfStdin() -> Bool {
        guard input != nil else { return false }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { scratch.deallocate() }
        while !stdinEnded { if readStdin(into: scratch) == 0 && !stdinEnded { return false } }
        return stdinRecordLeft == 0
    }

    // MARK: - Writing

    private func appendStdout(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
        var rest = bytes
        while !rest.isEmpty {
            let chunk = rest.prefix(FastCGIRecordHeader.maxContent)
            FastCGIRecordHeader.append(.stdout, requestID: requestID, contentLength: chunk.count, to: &out)
            out.append(contentsOf: chunk)
            rest = rest.dropFirst(chunk.count)
        }
    }

    private func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Closes the connection. With `linger`, first says "no more output" and
    /// reads until nginx closes (at most 2 s of silence): closing a socket
    /// with unread body bytes would reset it, and nginx, still sending the
    /// body of a refused upload, would then answer 502 instead of our JSON.
    private func closeConnection(linger: Bool) {
        guard let input else { return }
        if linger && shutdown(input.descriptor, Int32(SHUT_WR)) == 0 { input.drain(timeoutMilliseconds: 2000) }
        close(input.descriptor)
        self.input = nil
        stdinEnded = true
    }

    private static func newRequestID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
