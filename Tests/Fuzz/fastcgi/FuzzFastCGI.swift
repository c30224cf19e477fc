// libFuzzer target: the FastCGI record layer and parameter stream
// (DepotFastCGI) as a peer on the worker's socket sends them. The input is
// written to one end of a socket pair; the connection under test reads
// records from the other end like a worker from nginx.
//
// Invariants beyond "no crash" and "no hang":
// - a request is handed out only with its parameters read whole, and its
//   headers' names are lowercase without '_';
// - the body read is never longer than the STDIN records sent;
// - the parameter walk never reads outside the stream (ranges in bounds).
@testable import DepotFastCGI
import DepotHTTP
import DepotTestSupport
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The parameter walk alone, on the raw bytes.
    let params = FastCGIParameters(bytes: bytes)
    _ = params.forEach { name, value in
        precondition(name.lowerBound >= 0 && name.upperBound <= bytes.count && value.upperBound <= bytes.count)
        if let header = params.headerName(name) { precondition(!header.contains("_") && header == header.lowercased()) }
    }

    // The whole connection: a listening socket, the input as one peer's bytes.
    guard let listener = UnixSocketListener(name: "fuzz-fcgi-\(getpid())") else { fatalError("no unix socket") }
    let client = listener.connectClient()
    var big = Int32(4 << 20)
    setsockopt(client, SOL_SOCKET, SO_SNDBUF, &big, socklen_t(MemoryLayout<Int32>.size))
    _ = bytes.withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
    shutdown(client, Int32(SHUT_WR))
    // A second, well-formed request after it: accept() must come back (no hang).
    let good = listener.connectClient()
    let end = [UInt8(11), 9] + Array("REQUEST_URI/fuzz-end".utf8)
    let wellFormed: [UInt8] = [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 4, 0, 1, 0, UInt8(end.count), 0, 0] + end
        + [1, 4, 0, 1, 0, 0, 0, 0, 1, 5, 0, 1, 0, 0, 0, 0]
    _ = wellFormed.withUnsafeBytes { write(good, $0.baseAddress!, $0.count) }
    shutdown(good, Int32(SHUT_WR))

    let connection = FastCGIConnection(listenDescriptor: listener.descriptor)
    var reachedEnd = false
    while let request = connection.accept() {
        for (name, _) in request.headers { precondition(!name.contains("_") && name == name.lowercased()) }
        if case .stream(_, let read) = request.body {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
            var total = 0
            while true {
                let n = read(buffer)
                if n == 0 { break }
                total += n
                precondition(total <= size, "more body than bytes sent")
            }
            buffer.deallocate()
        }
        connection.respond(HTTPResponse(status: 204))
        if request.rawPath == "/fuzz-end" {
            reachedEnd = true
            break
        }
    }
    precondition(reachedEnd, "accept() gave up before the well-formed request after the input")
    close(client)
    close(good)
    return 0
}
