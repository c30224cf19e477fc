import DepotTestSupport
import Foundation

/// clamd's side of INSTREAM, written by hand: a listening unix socket that
/// serves each connection on a thread of its own with `behaviour`. Call
/// `stop()` when done: the accepting thread holds it (and so its listening
/// descriptor) until then, so no other test's socket can take that number.
final class FakeClamd: @unchecked Sendable {
    enum Behaviour: Sendable {
        /// Reads the whole stream, then sends `reply` and a NUL.
        case answer(String)
        /// Reads the whole stream, waits `seconds`, then answers OK.
        case answerAfter(seconds: Double)
        /// Accepts and closes at once.
        case hangUp
        /// Reads the command and `bytes` of the stream, sends `reply`, closes (clamd past StreamMaxLength).
        case cutOff(after: Int, reply: String)
    }

    private let listener: UnixSocketListener
    private let behaviour: Behaviour
    private let lock = NSLock()
    private var _commands: [String] = []
    private var _streams: [[UInt8]] = []
    private var _chunkSizes: [Int] = []

    var path: String { listener.path }
    var commands: [String] { lock.withLock { _commands } }
    var streams: [[UInt8]] { lock.withLock { _streams } }
    var chunkSizes: [Int] { lock.withLock { _chunkSizes } }

    init?(_ behaviour: Behaviour) {
        guard let listener = UnixSocketListener(name: "clamd-\(UUID().uuidString.prefix(8))") else { return nil }
        self.listener = listener
        self.behaviour = behaviour
        let descriptor = listener.descriptor
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(descriptor, nil, nil)
                guard client >= 0 else { return }
                Thread.detachNewThread { self.serve(client) }
            }
        }
    }

    /// Stops accepting (a shut-down listener makes `accept` fail).
    func stop() { shutdown(listener.descriptor, Int32(SHUT_RDWR)) }

    private func serve(_ client: Int32) {
        defer { close(client) }
        if case .hangUp = behaviour { return }
        let command = readCommand(client)
        lock.withLock { _commands.append(command) }
        if command == "zPING" { send(client, "PONG"); return }
        guard command == "zINSTREAM" else { send(client, "UNKNOWN COMMAND"); return }
        var stream: [UInt8] = []
        while true {
            guard let header = readExactly(client, 4) else { return }
            let length = header.reduce(0) { $0 << 8 | Int($1) }
            if length == 0 { break }
            lock.withLock { _chunkSizes.append(length) }
            if case .cutOff(let after, let reply) = behaviour, stream.count + length > after {
                send(client, reply)
                return
            }
            guard let bytes = readExactly(client, length) else { return }
            stream += bytes
        }
        lock.withLock { _streams.append(stream) }
        switch behaviour {
        case .answer(let reply): send(client, reply)
        case .answerAfter(let seconds):
            Thread.sleep(forTimeInterval: seconds)
            send(client, "stream: OK")
        default: return
        }
    }

    private func readCommand(_ client: Int32) -> String {
        var bytes: [UInt8] = []
        while let byte = readExactly(client, 1)?.first, byte != 0 { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func readExactly(_ client: Int32, _ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(client, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { return nil }
            got += n
        }
        return out
    }

    private func send(_ client: Int32, _ text: String) {
        let bytes = Array(text.utf8) + [0]
        _ = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
