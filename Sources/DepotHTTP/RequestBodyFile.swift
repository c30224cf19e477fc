import Foundation

/// A request body as an open file: nginx's temp file when it handed one over,
/// otherwise the FastCGI stream spooled to an unlinked scratch file. Parsers
/// read it with `pread` in slices; nothing holds the whole body in memory.
public struct RequestBodyFile {
    public let descriptor: Int32
    public let length: Int64

    public enum Failure: Error {
        /// The request has no body.
        case missing
        /// nginx's file could not be opened.
        case unreadable
        /// The scratch file could not be made or written (disk full, no temp dir).
        case spoolFailed
    }

    /// `scratchDirectory`: where a streamed body is spooled (default: the temp directory).
    public init(_ body: RequestBody, scratchDirectory: String?) throws {
        switch body {
        case .none:
            throw Failure.missing
        case .file(let path, let length):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Failure.unreadable }
            descriptor = fd
            self.length = length
        case .stream(_, let read):
            var template = Array(((scratchDirectory ?? NSTemporaryDirectory()) + "/depot-body-XXXXXX").utf8CString)
            let fd = mkstemp(&template)
            guard fd >= 0 else { throw Failure.spoolFailed }
            // Unlinked at once: the kernel frees it when the descriptor closes, whatever happens.
            unlink(String(cString: template))
            var total: Int64 = 0
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = read(buffer)
                if n <= 0 { break }
                var written = 0
                while written < n {
                    let w = write(fd, buffer.baseAddress! + written, n - written)
                    if w < 0 {
                        if errno == EINTR { continue }
                        Glibc.close(fd)
                        throw Failure.spoolFailed
                    }
                    written += w
                }
                total += Int64(n)
            }
            descriptor = fd
            length = total
        }
    }

    public func close() { Glibc.close(descriptor) }
}
