import Foundation

/// Buffered reads from one FastCGI connection. One read(2) takes whatever
/// the socket holds, up to the buffer's size: an upload's body arrives as
/// 32 KiB records, and reading several per call keeps the worker's system
/// calls per GiB in the thousands (libfcgi read 8 KiB at a time).
final class FastCGIInput {
    static let capacity = 256 * 1024

    let descriptor: Int32
    private let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: FastCGIInput.capacity, alignment: 8)
    private var start = 0
    private var end = 0

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { storage.deallocate() }

    /// Bytes read from the socket and not yet consumed.
    var buffered: Int { end - start }

    /// Reads once, waiting until something arrives; false at end of stream or on error.
    func fill() -> Bool {
        if start == end {
            start = 0
            end = 0
        } else if end == storage.count {
            storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: end - start)
            end -= start
            start = 0
        }
        while true {
            let n = Glibc.read(descriptor, storage.baseAddress! + end, storage.count - end)
            if n > 0 {
                end += n
                return true
            }
            if n < 0 && errno == EINTR { continue }
            return false
        }
    }

    /// Waits until `count` (at most the buffer's size) bytes are buffered.
    func require(_ count: Int) -> Bool {
        while buffered < count {
            guard fill() else { return false }
        }
        return true
    }

    /// The next record's header, consumed; nil at end of stream or for a non-FastCGI peer.
    func nextHeader() -> FastCGIRecordHeader? {
        guard require(FastCGIRecordHeader.size) else { return nil }
        let header = FastCGIRecordHeader(UnsafeRawPointer(storage.baseAddress! + start))
        start += FastCGIRecordHeader.size
        return header
    }

    /// Appends `count` bytes to `out`.
    func read(_ count: Int, into out: inout [UInt8]) -> Bool {
        var left = count
        while left > 0 {
            if buffered == 0 { guard fill() else { return false } }
            let take = min(left, buffered)
            out.append(contentsOf: UnsafeRawBufferPointer(start: storage.baseAddress! + start, count: take))
            start += take
            left -= take
        }
        return true
    }

    /// Copies up to `count` buffered bytes to `target`, without waiting.
    func take(_ count: Int, to target: UnsafeMutableRawPointer) -> Int {
        let n = min(count, buffered)
        target.copyMemory(from: storage.baseAddress! + start, byteCount: n)
        start += n
        return n
    }

    /// Consumes `count` bytes, waiting for them if needed.
    func skip(_ count: Int) -> Bool {
        var left = count
        while left > 0 {
            if buffered == 0 { guard fill() else { return false } }
            let n = min(left, buffered)
            start += n
            left -= n
        }
        return true
    }

    /// Reads and drops everything until the peer closes, or until it has
    /// been silent for `timeoutMilliseconds`.
    func drain(timeoutMilliseconds: Int32) {
        start = 0
        end = 0
        while true {
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let r = poll(&ready, 1, timeoutMilliseconds)
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { return }
            let n = Glibc.read(descriptor, storage.baseAddress!, storage.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
        }
    }
}
