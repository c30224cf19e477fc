import Foundation

/// Where a request body can be read from. nginx normally hands the worker a
/// temp file path; otherwise the body arrives on the FastCGI stream.
public enum RequestBody {
    case none
    /// A file nginx wrote; the path was checked by the adapter to lie inside
    /// the configured upload temp directory.
    case file(path: String, length: Int64)
    /// Bytes still on the wire. `read` returns 0 at end of body.
    case stream(length: Int64?, read: (UnsafeMutableRawBufferPointer) -> Int)
}
