/// One INSTREAM in progress on its own connection to clamd.
final class ClamdStream: MalwareScan {
    private let socket: ClamdSocket
    private let limit: Int64?
    private var sent: Int64 = 0
    private var done = false
    /// A chunk's most bytes: clamd reads a chunk whole before checking it
    /// against StreamMaxLength, so keep each modest.
    static let chunkSize = 1 << 20

    init(socket: ClamdSocket, limit: Int64?) {
        self.socket = socket
        self.limit = limit
    }

    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard !done else { throw ScanFailure.unavailable("the scan already ended") }
        if let limit, sent + Int64(bytes.count) > limit { throw ScanFailure.tooLarge }
        var start = 0
        while start < bytes.count {
            let count = min(Self.chunkSize, bytes.count - start)
            do {
                try socket.send(Self.lengthPrefix(count))
                try socket.send(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]))
            } catch let failure as ScanFailure {
                // clamd closes a stream past its StreamMaxLength after saying so.
                throw socket.closingReason() ?? failure
            }
            start += count
            sent += Int64(count)
        }
    }

    func verdict() throws -> ScanVerdict {
        guard !done else { throw ScanFailure.unavailable("the scan already ended") }
        done = true
        do {
            try socket.send(Self.lengthPrefix(0))
        } catch let failure as ScanFailure {
            throw socket.closingReason() ?? failure
        }
        return try Self.verdict(fromReply: try socket.reply())
    }

    /// Reads clamd's answer to INSTREAM (without its NUL).
    static func verdict(fromReply reply: String) throws -> ScanVerdict {
        var text = Substring(reply)
        if text.hasPrefix("stream: ") { text = text.dropFirst("stream: ".count) }
        if text == "OK" { return .clean }
        if text.hasSuffix(" FOUND") {
            let name = text.dropLast(" FOUND".count).trimmingCharacters(in: .whitespaces)
            return .infected(signature: name.isEmpty ? "unknown" : name)
        }
        if text.contains("size limit exceeded") { throw ScanFailure.tooLarge }
        throw ScanFailure.unavailable("clamd answered: \(text.prefix(200))")
    }

    static func lengthPrefix(_ count: Int) -> [UInt8] {
        let n = UInt32(count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
    }
}
