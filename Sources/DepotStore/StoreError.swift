import Foundation

public enum StoreError: Error, Equatable {
    /// Connection failure, timeout, 5xx (and 408/429): worth retrying later.
    case unavailable(String)
    /// 404 (NoSuchKey, NoSuchBucket, NoSuchUpload).
    case notFound
    /// Any other 4xx; `code` is the S3 XML `<Code>`, or a name derived from the
    /// status when the answer has no body (HEAD).
    case rejected(status: Int, code: String)
}

extension StoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unavailable(let why): return "object store unavailable: \(why)"
        case .notFound: return "object store: not found"
        case .rejected(let status, let code): return "object store refused the request: \(status) \(code)"
        }
    }
}
