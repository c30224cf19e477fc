import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// State shared with libcurl's callbacks for one transfer; reached through an
/// unretained Unmanaged pointer that lives only while `curl_easy_perform` runs.
final class CurlTransfer {
    enum Source {
        case none
        case bytes([UInt8])
        case file(descriptor: Int32, offset: Int64, length: Int64)
        case stream(StoreBodySource, length: Int64)
    }

    let source: Source
    let responseLimit: Int
    var position: Int64 = 0
    var readFailure: String?
    /// What a stream source threw; the transfer's caller rethrows it as is.
    var sourceError: Error?
    var body: [UInt8] = []
    var headers: [(String, String)] = []

    init(source: Source, responseLimit: Int) {
        self.source = source
        self.responseLimit = responseLimit
    }

    var sourceLength: Int64 {
        switch source {
        case .none: return 0
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, _, let length): return length
        case .stream(_, let length): return length
        }
    }

    /// Fills curl's upload buffer; returns the byte count, 0 at the end, or CURL_READFUNC_ABORT.
    func fill(_ buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let remaining = sourceLength - position
        if remaining <= 0 { return 0 }
        let want = Int(min(Int64(capacity), remaining))
        switch source {
        case .none:
            return 0
        case .bytes(let bytes):
            bytes.withUnsafeBytes { raw in
                let start = raw.baseAddress!.advanced(by: Int(position))
                UnsafeMutableRawPointer(buffer).copyMemory(from: start, byteCount: want)
            }
            position += Int64(want)
            return want
        case .file(let fd, let offset, _):
            while true {
                let got = pread(fd, buffer, want, off_t(offset + position))
                if got > 0 {
                    position += Int64(got)
                    return got
                }
                if got == 0 {
                    readFailure = "upload source ended \(remaining) bytes early"
                    return 0x1000_0000  // CURL_READFUNC_ABORT
                }
                if errno == EINTR { continue }
                readFailure = "reading the upload source failed: \(String(cString: strerror(errno)))"
                return 0x1000_0000  // CURL_READFUNC_ABORT
            }
        case .stream(let stream, _):
            do {
                let got = try stream.read(at: position, into: UnsafeMutableRawBufferPointer(start: buffer, count: want))
                guard got > 0 else {
                    readFailure = "upload source ended \(remaining) bytes early"
                    return 0x1000_0000  // CURL_READFUNC_ABORT
                }
                position += Int64(got)
                return got
            } catch {
                sourceError = error
                readFailure = "upload source failed"
                return 0x1000_0000  // CURL_READFUNC_ABORT
            }
        }
    }

    /// Rewinds the upload (curl retries a request on a fresh connection when a reused one died).
    func seek(to offset: Int64, origin: Int32) -> Int32 {
        guard origin == SEEK_SET, offset >= 0, offset <= sourceLength else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
        position = offset
        return 0  // CURL_SEEKFUNC_OK
    }

    func receive(_ data: UnsafeMutablePointer<CChar>, count: Int) {
        let room = responseLimit - body.count
        guard room > 0 else { return }  // keep draining, store no more
        let take = min(room, count)
        data.withMemoryRebound(to: UInt8.self, capacity: take) {
            body.append(contentsOf: UnsafeBufferPointer(start: $0, count: take))
        }
    }

    func header(_ data: UnsafeMutablePointer<CChar>, count: Int) {
        let line = data.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
        if line.hasPrefix("HTTP/") {
            headers.removeAll()  // a new response (after 100 Continue or a retry) starts
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers.append((name, value))
    }
}
