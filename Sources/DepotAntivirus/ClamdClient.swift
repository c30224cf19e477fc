import Foundation

/// ClamAV's `clamd` over its unix socket (`LocalSocket`), speaking the
/// INSTREAM command: `zINSTREAM\0`, then chunks of a 4-byte big-endian
/// length and that many bytes, then a zero-length chunk; clamd answers
/// `stream: OK`, `stream: <name> FOUND` or `… ERROR`, NUL-terminated (the
/// `z` prefix). clamd spools the stream and scans it after the last chunk,
/// so the client holds no copy of the file.
public struct ClamdClient: MalwareScanner, Sendable {
    public let socketPath: String
    public let connectTimeoutSeconds: Double
    /// How long one write may block and how long the verdict may take.
    public let replyTimeoutSeconds: Double
    /// clamd's `StreamMaxLength`: a stream longer than this is refused
    /// (`ScanFailure.tooLarge`) before clamd would cut it off; nil: no limit
    /// on this side (clamd's own still holds).
    public let streamMaxLength: Int64?

    public init(socketPath: String, connectTimeoutSeconds: Double = 2, replyTimeoutSeconds: Double = 120,
                streamMaxLength: Int64? = nil) {
        self.socketPath = socketPath
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.replyTimeoutSeconds = replyTimeoutSeconds
        self.streamMaxLength = streamMaxLength
    }

    public func openScan() throws -> MalwareScan {
        let socket = try ClamdSocket(path: socketPath, connectTimeout: connectTimeoutSeconds, replyTimeout: replyTimeoutSeconds)
        try socket.send(Array("zINSTREAM\0".utf8))
        return ClamdStream(socket: socket, limit: streamMaxLength)
    }

    /// True when clamd answers `PING` with `PONG`.
    public func ping() -> Bool {
        guard let socket = try? ClamdSocket(path: socketPath, connectTimeout: connectTimeoutSeconds, replyTimeout: replyTimeoutSeconds),
              (try? socket.send(Array("zPING\0".utf8))) != nil else { return false }
        return (try? socket.reply()) == "PONG"
    }
}
