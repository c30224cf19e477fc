import Foundation

/// Reads a request body front to back as it arrives, whichever way it came:
/// the FastCGI stream (uploads: nginx forwards the body unbuffered, so
/// nothing of it lands on disk), or a file nginx wrote (in-process tests).
public final class RequestBodyReader {
    /// The body's length when the client declared one.
    public let declaredLength: Int64?
    private let source: Source
    private var descriptor: Int32 = -1
    private var position: Int64 = 0
    /// A body must arrive at least this fast, judged per window: a client
    /// trickling bytes never trips nginx's idle timeout, yet would hold an
    /// upload worker for as long as it likes.
    public var minimumRate: MinimumRate?
    private var window: (start: TimeInterval, bytes: Int64)?

    public struct MinimumRate: Sendable {
        public var bytesPerSecond: Int64
        public var windowSeconds: Int
        public init(bytesPerSecond: Int64, windowSeconds: Int) {
            self.bytesPerSecond = bytesPerSecond
            self.windowSeconds = windowSeconds
        }
    }

    private enum Source {
        case stream((UnsafeMutableRawBufferPointer) -> Int)
        case file(Int64)
    }

    public enum Failure: Error {
        /// The request has no body.
        case missing
        /// nginx's body file could not be opened or read.
        case unreadable
        /// The body arrived slower than `minimumRate` over a whole window.
        case tooSlow
    }

    public init(_ body: RequestBody) throws {
        switch body {
        case .none:
            throw Failure.missing
        case .stream(let length, let read):
            declaredLength = length
            source = .stream(read)
        case .file(let path, let length):
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw Failure.unreadable }
            declaredLength = length
            source = .file(length)
        }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Bytes read so far.
    public var bytesRead: Int64 { position }

    /// Fills up to `buffer.count` bytes; 0 at the end of the body (or when
    /// the client went away: the caller's parser then reports it truncated).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n: Int
        switch source {
        case .stream(let read):
            n = max(0, read(buffer))
        case .file(let length):
            let want = Int(min(Int64(buffer.count), length - position))
            guard want > 0 else { return 0 }
            var got: Int
            repeat { got = pread(descriptor, buffer.baseAddress, want, off_t(position)) } while got < 0 && errno == EINTR
            guard got >= 0 else { throw Failure.unreadable }
            n = got
        }
        position += Int64(n)
        if let rate = minimumRate, rate.bytesPerSecond > 0, n > 0 { try judgeRate(rate, n) }
        return n
    }

    private func judgeRate(_ rate: MinimumRate, _ n: Int) throws {
        // Monotonic: a clock step must not cut off (or excuse) a client.
        let now = ProcessInfo.processInfo.systemUptime
        var current = window ?? (start: now, bytes: 0)
        current.bytes += Int64(n)
        let elapsed = now - current.start
        if elapsed >= Double(rate.windowSeconds) {
            guard Double(current.bytes) >= Double(rate.bytesPerSecond) * elapsed else { throw Failure.tooSlow }
            current = (start: now, bytes: 0)
        }
        window = current
    }
}
