import Foundation

/// A connected unix stream socket to clamd with timeouts on connect, on
/// every write and on the reply (SO_SNDTIMEO, which Linux also applies to a
/// unix socket's connect, and SO_RCVTIMEO). Writes never raise SIGPIPE.
final class ClamdSocket {
    private let descriptor: Int32
    private let replyTimeout: Double
    /// The longest reply read: clamd's answers are one short line.
    static let replyLimit = 4096

    init(path: String, connectTimeout: Double, replyTimeout: Double) throws {
        self.replyTimeout = replyTimeout
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ScanFailure.unavailable("the clamd socket path is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        // `descriptor` is set only once connected: a throw after every stored
        // property is set runs deinit, which would close the number again,
        // perhaps by then another thread's descriptor.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ScanFailure.unavailable("socket: \(String(cString: strerror(errno)))") }
        Self.setTimeout(fd, SO_SNDTIMEO, connectTimeout)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ScanFailure.unavailable("cannot connect to clamd: \(reason)")
        }
        descriptor = fd
        Self.setTimeout(descriptor, SO_SNDTIMEO, replyTimeout)
        Self.setTimeout(descriptor, SO_RCVTIMEO, replyTimeout)
    }

    deinit { close(descriptor) }

    func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try send($0) }
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        var start = 0
        while start < bytes.count {
            let n = Glibc.send(descriptor, bytes.baseAddress! + start, bytes.count - start, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
                throw ScanFailure.unavailable(timedOut ? "clamd stopped reading (timeout)" : "writing to clamd: \(String(cString: strerror(errno)))")
            }
            start += n
        }
    }

    /// clamd's answer up to its NUL (or the connection's end).
    func reply() throws -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while out.count < Self.replyLimit {
            let n = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
                throw ScanFailure.unavailable(timedOut ? "clamd did not answer in \(Int(replyTimeout)) s" : "reading from clamd: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            if let nul = buffer[0..<n].firstIndex(of: 0) {
                out += buffer[0..<nul]
                return Self.text(out)
            }
            out += buffer[0..<n]
        }
        guard !out.isEmpty else { throw ScanFailure.unavailable("clamd closed the connection without an answer") }
        return Self.text(out)
    }

    /// After a failed write: what clamd said before it closed, as the failure
    /// it means (a stream over its limit), or nil.
    func closingReason() -> ScanFailure? {
        Self.setTimeout(descriptor, SO_RCVTIMEO, 1)
        guard let text = try? reply() else { return nil }
        if text.contains("size limit exceeded") { return .tooLarge }
        return .unavailable("clamd answered: \(text.prefix(200))")
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func setTimeout(_ descriptor: Int32, _ option: Int32, _ seconds: Double) {
        let whole = max(seconds, 0.001)
        var value = timeval(tv_sec: Int(whole), tv_usec: Int((whole - Double(Int(whole))) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
    }
}
