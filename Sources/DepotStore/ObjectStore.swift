import Foundation

/// The object store as the service sees it: one bucket of encrypted objects
/// (SSE-C: the store never keeps the keys), multipart uploads for large
/// bodies, listings by prefix, and presigned requests that nginx sends on the
/// worker's behalf. `S3Client` is the implementation; tests use an in-memory one.
public protocol ObjectStore: AnyObject {
    /// The bucket every key lives in.
    var bucket: String { get }
    /// Answers when the store and the bucket can be reached.
    func ping() throws
    /// Stores a whole object; returns its ETag as the store sent it.
    func putObject(key: String, body: StoreBody, contentType: String, sse: SSECustomerKey?) throws -> String
    /// nil when there is no such object.
    func headObject(key: String, sse: SSECustomerKey?) throws -> StoreObjectInfo?
    /// A small object's bytes, at most `maxBytes` (a larger object is an
    /// error); nil when there is no such object.
    func getObject(key: String, sse: SSECustomerKey?, maxBytes: Int) throws -> [UInt8]?
    /// `length` bytes of an object from `offset` (fewer at its end); reads a
    /// large object in pieces without holding it whole.
    func getObjectRange(key: String, sse: SSECustomerKey?, offset: Int64, length: Int64) throws -> [UInt8]
    /// Deleting a missing object succeeds.
    func deleteObject(key: String) throws
    func listObjects(prefix: String, continuationToken: String?, maxKeys: Int) throws -> StoreListPage
    /// Starts a multipart upload; returns its id.
    func createMultipartUpload(key: String, contentType: String, sse: SSECustomerKey?) throws -> String
    /// Returns the part's ETag.
    func uploadPart(key: String, uploadID: String, partNumber: Int, body: StoreBody, sse: SSECustomerKey?) throws -> String
    func completeMultipartUpload(key: String, uploadID: String, parts: [(number: Int, etag: String)], sse: SSECustomerKey?) throws -> String
    func abortMultipartUpload(key: String, uploadID: String) throws
    func listMultipartUploads(prefix: String) throws -> [StoreMultipartUpload]
    /// A URL and the exact headers to send with it; the SSE-C key travels in
    /// the signed headers, never in the URL.
    func presign(method: String, key: String, expiresIn: Int, sse: SSECustomerKey?,
                 extraQuery: [(String, String)], now: Date) -> (url: String, headers: [(String, String)])
}

extension S3Client: ObjectStore {
    public var bucket: String { configuration.bucket }
}
