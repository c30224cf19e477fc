@testable import DepotFastCGI
import DepotHTTP
import Foundation
import DepotTestSupport
import Testing

/// nginx's side of a FastCGI connection, written by hand: a listening unix
/// socket for the connection under test, and one client connected to it.
final class FastCGIPeer {
    let client: Int32
    private let listener: UnixSocketListener

    var listenDescriptor: Int32 { listener.descriptor }

    init() throws {
        listener = try #require(UnixSocketListener(name: "fcgi-\(UUID().uuidString.prefix(8))"))
        client = listener.connectClient()
        try #require(client >= 0)
    }

    /// Another client of `other`'s listener.
    init(reusing other: FastCGIPeer) throws {
        listener = other.listener
        client = listener.connectClient()
        try #require(client >= 0)
    }

    deinit { close(client) }

    static func record(_ type: UInt8, id: UInt16 = 1, _ content: [UInt8], padding: Int = 0) -> [UInt8] {
        [1, type, UInt8(id >> 8), UInt8(id & 0xff), UInt8(content.count >> 8), UInt8(content.count & 0xff), UInt8(padding), 0]
            + content + [UInt8](repeating: 0xAA, count: padding)
    }

    static func pair(_ name: String, _ value: String) -> [UInt8] {
        func length(_ n: Int) -> [UInt8] { n < 128 ? [UInt8(n)] : [UInt8(n >> 24 | 0x80), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }
        return length(name.utf8.count) + length(value.utf8.count) + Array(name.utf8) + Array(value.utf8)
    }

    static func begin(id: UInt16 = 1, role: UInt8 = 1, keep: Bool = false) -> [UInt8] {
        record(1, id: id, [0, role, keep ? 1 : 0, 0, 0, 0, 0, 0])
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
    }

    func finishSending() { shutdown(client, Int32(SHUT_WR)) }

    /// Everything the connection wrote, until it closed its side.
    func received() -> [UInt8] {
        var all = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress!, $0.count) }
            if n <= 0 { return all }
            all += buffer[0..<n]
        }
    }

    /// The STDOUT content and the END_REQUEST protocol status of `bytes`.
    static func parse(_ bytes: [UInt8]) -> (stdout: [UInt8], protocolStatus: UInt8?) {
        var out = [UInt8](), status: UInt8?, i = 0
        while i + 8 <= bytes.count {
            let type = bytes[i + 1], length = Int(bytes[i + 4]) << 8 | Int(bytes[i + 5]), padding = Int(bytes[i + 6])
            let content = Array(bytes[(i + 8)..<(i + 8 + length)])
            if type == 6 { out += content }
            if type == 3 { status = content[4] }
            i += 8 + length + padding
        }
        return (out, status)
    }
}

func readAll(_ body: RequestBody) -> [UInt8] {
    guard case .stream(_, let read) = body else { return [] }
    var all = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 100_000)
    while true {
        let n = buffer.withUnsafeMutableBytes { read($0) }
        if n == 0 { return all }
        all += buffer[0..<n]
    }
}

@Suite struct FastCGIConnectionTests {
    @Test func requestParametersHeadersAndBodyArriveAsSent() throws {
        // Parameters split across two PARAMS records (one pair cut in half, one
        // value longer than 127 bytes), a body in padded records of several sizes.
        let peer = try FastCGIPeer()
        let token = String(repeating: "t", count: 300)
        let params = FastCGIPeer.pair("REQUEST_METHOD", "POST") + FastCGIPeer.pair("REQUEST_URI", "/api/v1/storage/upload?x=1")
            + FastCGIPeer.pair("QUERY_STRING", "x=1") + FastCGIPeer.pair("CONTENT_TYPE", "multipart/form-data; boundary=b")
            + FastCGIPeer.pair("CONTENT_LENGTH", "70000") + FastCGIPeer.pair("REMOTE_ADDR", "127.0.0.1")
            + FastCGIPeer.pair("REQUEST_ID", "abc") + FastCGIPeer.pair("HTTP_AUTHORIZATION", "Bearer " + token)
            + FastCGIPeer.pair("HTTP_X_UPLOAD_LENGTH", "5")
        let body = (0..<70000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var wire = FastCGIPeer.begin() + FastCGIPeer.record(4, Array(params[0..<20])) + FastCGIPeer.record(4, Array(params[20...]), padding: 3)
            + FastCGIPeer.record(4, [])
        wire += FastCGIPeer.record(5, Array(body[0..<1]), padding: 7) + FastCGIPeer.record(5, Array(body[1..<65001]), padding: 7)
            + FastCGIPeer.record(5, Array(body[65001...])) + FastCGIPeer.record(5, [])
        peer.send(wire)
        peer.finishSending()

        let connection = FastCGIConnection(listenDescriptor: peer.listenDescriptor)
        let request = try #require(connection.accept())
        #expect(request.method == "POST")
        #expect(request.rawPath == "/api/v1/storage/upload")
        #expect(request.query["x"] == "1")
        #expect(request.requestID == "abc")
        #expect(request.remoteAddress == "127.0.0.1")
        #expect(request.bearerToken == token)
        #expect(request.headers["x-upload-length"] == "5")
        #expect(request.headers["content-length"] == "70000")
        #expect(request.headers["content-type"] == "multipart/form-data; boundary=b")
        #expect(readAll(request.body) == body)

        connection.respond(HTTPResponse(status: 201, headers: [("Content-Type", "application/json")], body: Array("{}".utf8)))
        let (stdout, status) = FastCGIPeer.parse(peer.received())
        #expect(String(decoding: stdout, as: UTF8.self) == "Status: 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        #expect(status == 0)
    }

    @Test func waitingForAConnectionRunsTheWaitingWorkEverySecond() throws {
        // No connection for a while: accept runs the work (a worker's
        // deferred clean-up) once a second, then takes the one that comes.
        let listener = try #require(UnixSocketListener(name: "fcgi-\(UUID().uuidString.prefix(8))"))
        let connection = FastCGIConnection(listenDescriptor: listener.descriptor)
        var wakes = 0
        var client: Int32 = -1
        defer { if client >= 0 { close(client) } }
        connection.wakeWhileWaiting(every: 1) {
            wakes += 1
            guard wakes == 2 else { return }
            client = listener.connectClient()
            let wire = FastCGIPeer.begin() + FastCGIPeer.record(4, FastCGIPeer.pair("REQUEST_METHOD", "GET")) + FastCGIPeer.record(4, [])
            _ = wire.withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
        }
        // Should the work never run, a HEAD after 10 s ends the wait, and
        // the test fails instead of hanging.
        let fallback = FastCGIPeer.begin() + FastCGIPeer.record(4, FastCGIPeer.pair("REQUEST_METHOD", "HEAD")) + FastCGIPeer.record(4, [])
        let rescue = DelayedClient(listener, after: 10, sending: fallback)
        let start = Date()
        let request = try #require(connection.accept())
        rescue.cancel()
        #expect(request.method == "GET")
        #expect(wakes == 2)
        #expect(Date().timeIntervalSince(start) >= 1.5)
    }

    @Test func bodyReadsReturnWhatHasArrivedWithoutWaitingForMore() throws {
        // A trickling client: the first read returns the 3 bytes sent so far.
        let peer = try FastCGIPeer()
        peer.send(FastCGIPeer.begin() + FastCGIPeer.record(4, FastCGIPeer.pair("CONTENT_LENGTH", "10")) + FastCGIPeer.record(4, [])
            + FastCGIPeer.record(5, [1, 2, 3]))
        let connection = FastCGIConnection(listenDescriptor: peer.listenDescriptor)
        let request = try #require(connection.accept())
        guard case .stream(let length, let read) = request.body else { Issue.record("no body"); return }
        #expect(length == 10)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(buffer.withUnsafeMutableBytes { read($0) } == 3)
        peer.send(FastCGIPeer.record(5, Array(4...10)) + FastCGIPeer.record(5, []))
        #expect(buffer.withUnsafeMutableBytes { read($0) } == 7)
        #expect(buffer[0..<7] == [4, 5, 6, 7, 8, 9, 10])
        #expect(buffer.withUnsafeMutableBytes { read($0) } == 0)
    }

    @Test func responsesLargerThanOneRecordAreSplit() throws {
        let peer = try FastCGIPeer()
        peer.send(FastCGIPeer.begin() + FastCGIPeer.record(4, []) + FastCGIPeer.record(5, []))
        peer.finishSending()
        let connection = FastCGIConnection(listenDescriptor: peer.listenDescriptor)
        _ = try #require(connection.accept())
        let body = [UInt8](repeating: 0x61, count: 200_000)
        connection.respond(HTTPResponse(status: 200, headers: [("X-Bad", "a\r\nInjected: 1")], body: body))
        let (stdout, status) = FastCGIPeer.parse(peer.received())
        // A header value with a CR LF in it is dropped, not sent.
        let head = Array("Status: 200 OK\r\nContent-Length: 200000\r\n\r\n".utf8)
        #expect(String(decoding: stdout.prefix(head.count + 10), as: UTF8.self) == String(decoding: head, as: UTF8.self) + "aaaaaaaaaa")
        #expect(stdout.count == head.count + body.count)
        #expect(stdout.dropFirst(head.count).allSatisfy { $0 == 0x61 })
        #expect(status == 0)
    }

    @Test func aRequestWhoseBodyEndedIsClosedWithoutWaitingForTheClient() throws {
        // nginx keeps its side open until it has read the answer: the worker must
        // not wait for it (it lingers up to 2 s only when body bytes are left unread).
        let peer = try FastCGIPeer()
        peer.send(FastCGIPeer.begin() + FastCGIPeer.record(4, FastCGIPeer.pair("REQUEST_METHOD", "GET")) + FastCGIPeer.record(4, [])
                  + FastCGIPeer.record(5, []))
        let connection = FastCGIConnection(listenDescriptor: peer.listenDescriptor)
        _ = try #require(connection.accept())
        let started = Date()
        connection.respond(HTTPResponse(status: 200, headers: [], body: Array("ok".utf8)))
        #expect(Date().timeIntervalSince(started) < 1.0)
        #expect(FastCGIPeer.parse(peer.received()).stdout.suffix(2) == Array("ok".utf8)[...])
    }

    @Test func unreadBodyBytesMakeTheWorkerWaitForTheClientToClose() throws {
        // Closing over unread bytes would reset the connection before nginx read the answer.
        let peer = try FastCGIPeer()
        peer.send(FastCGIPeer.begin() + FastCGIPeer.record(4, FastCGIPeer.pair("REQUEST_METHOD", "POST") + FastCGIPeer.pair("CONTENT_LENGTH", "10"))
                  + FastCGIPeer.record(4, []) + FastCGIPeer.record(5, Array("01234".utf8)))
        let connection = FastCGIConnection(listenDescriptor: peer.listenDescriptor)
        _ = try #require(connection.accept())
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { peer.finishSending() }
        let started = Date()
        connection.respond(HTTPResponse(status: 413, headers: [], body: Array("no".utf8)))
        #expect(Date().timeIntervalSince(started) >= 0.25)
        #expect(FastCGIPeer.parse(peer.received()).stdout.suffix(2) == Array("no".utf8)[...])
    }

    @Test func hostileConnectionsAreDroppedAndTheNextRequestServed() throws {
        // Each bad connection is closed without a request; the good one after them is served.
        let bad: [(String, [UInt8])] = [
            ("not FastCGI", Array("GET / HTTP/1.1\r\n\r\n".utf8)),
            ("pair length past the end", FastCGIPeer.begin() + FastCGIPeer.record(4, [5, 100, 0x41]) + FastCGIPeer.record(4, [])),
            ("four-byte length past the end", FastCGIPeer.begin() + FastCGIPeer.record(4, [0xff, 0xff, 0xff, 0xff, 1]) + FastCGIPeer.record(4, [])),
            ("closed inside the parameters", FastCGIPeer.begin() + Array(FastCGIPeer.record(4, [1, 1, 0x41, 0x42])[0..<10])),
            ("aborted", FastCGIPeer.begin() + FastCGIPeer.record(2, [])),
            ("authorizer role", FastCGIPeer.begin(role: 2) + FastCGIPeer.record(4, []) + FastCGIPeer.record(5, [])),
            ("short begin record", FastCGIPeer.record(1, [0, 1, 0])),
        ]
        var peers: [FastCGIPeer] = []
        let first = try FastCGIPeer()
        for (_, wire) in bad {
            let peer = peers.isEmpty ? first : try FastCGIPeer(reusing: first)
            peer.send(wire)
            peer.finishSending()
            peers.append(peer)
        }
        let good = try FastCGIPeer(reusing: first)
        good.send(FastCGIPeer.begin(id: 9) + FastCGIPeer.record(0, id: 0, [1, 2]) + FastCGIPeer.record(4, id: 9, FastCGIPeer.pair("REQUEST_URI", "/ok"))
            + FastCGIPeer.record(4, id: 9, []) + FastCGIPeer.record(5, id: 9, []))
        good.finishSending()

        let connection = FastCGIConnection(listenDescriptor: first.listenDescriptor)
        let request = try #require(connection.accept())
        #expect(request.rawPath == "/ok")
        connection.respond(HTTPResponse(status: 204, headers: [], body: []))
        #expect(FastCGIPeer.parse(good.received()).protocolStatus == 0)
        for (peer, (name, _)) in zip(peers, bad) where name == "authorizer role" {
            #expect(FastCGIPeer.parse(peer.received()).protocolStatus == 3, "FCGI_UNKNOWN_ROLE")
        }
    }

    @Test func aKeptConnectionServesTheNextRequest() throws {
        // fastcgi_keep_conn on: the unread rest of the first body is skipped,
        // the second request on the same connection is served.
        let peer = try FastCGIPeer()
        peer.send(FastCGIPeer.begin(keep: true) + FastCGIPeer.record(4, FastCGIPeer.pair("CONTENT_LENGTH", "4")) + FastCGIPeer.record(4, [])
            + FastCGIPeer.record(5, [1, 2, 3, 4]) + FastCGIPeer.record(5, [])
            + FastCGIPeer.begin(id: 2) + FastCGIPeer.record(4, id: 2, FastCGIPeer.pair("REQUEST_URI", "/second")) + FastCGIPeer.record(4, id: 2, [])
            + FastCGIPeer.record(5, id: 2, []))
        peer.finishSending()
        let connection = FastCGIConnection(listenDescriptor: peer.listenDescriptor)
        _ = try #require(connection.accept())
        connection.respond(HTTPResponse(status: 200, headers: [], body: Array("one".utf8)))
        let second = try #require(connection.accept())
        #expect(second.rawPath == "/second")
        connection.respond(HTTPResponse(status: 200, headers: [], body: Array("two".utf8)))
        let text = String(decoding: FastCGIPeer.parse(peer.received()).stdout, as: UTF8.self)
        #expect(text.contains("\r\n\r\none") && text.hasSuffix("\r\n\r\ntwo"))
    }
}

@Suite struct FastCGIParametersTests {
    @Test func headerNamesAreTokensOnly() {
        // Found by the fastcgi fuzz target: a name with bytes past ASCII came
        // out as a header name that lowercasing changes. nginx writes A-Z,
        // 0-9 and '_' only; anything else is not a header.
        for (name, expected) in [("HTTP_X_UPLOAD_OFFSET", "x-upload-offset"), ("HTTP_TUS_RESUMABLE", "tus-resumable"),
                                 ("HTTP_X\u{C4}", nil), ("HTTP_X \u{1}", nil), ("HTTP_X:Y", nil), ("HTTP_", nil), ("HOST", nil)] as [(String, String?)] {
            let bytes = FastCGIPeer.pair(name, "v")
            let params = FastCGIParameters(bytes: bytes)
            var found: String??
            _ = params.forEach { n, _ in found = .some(params.headerName(n)) }
            #expect(found == .some(expected), "\(name)")
        }
    }
}

/// Connects to `listener` and sends `wire` after `seconds`, unless cancelled first.
private final class DelayedClient: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var client: Int32 = -1

    init(_ listener: UnixSocketListener, after seconds: Double, sending wire: [UInt8]) {
        Thread.detachNewThread { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if lock.withLock({ cancelled }) { return }
                Thread.sleep(forTimeInterval: 0.1)
            }
            lock.withLock {
                guard !cancelled else { return }
                client = listener.connectClient()
                _ = wire.withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
            }
        }
    }

    func cancel() { lock.withLock { cancelled = true } }

    deinit { if client >= 0 { close(client) } }
}
