import DepotCrypto
import DepotEncoding
@testable import DepotStore
import Foundation

/// An object store in memory for the handler tests: the ObjectStore contract
/// (keys, prefixes, continuation, multipart, SSE-C required to read back what
/// was written with it) without a network. The real store is exercised by
/// DepotStoreTests and the integration suite.
final class InMemoryObjectStore: ObjectStore {
    struct Object {
        var bytes: [UInt8]
        var contentType: String
        var sseKey: [UInt8]?
        /// nil: the store answered without a readable date.
        var lastModified: Date?
    }

    let bucket: String
    private(set) var objects: [String: Object] = [:]
    private(set) var multipart: [String: (key: String, parts: [Int: [UInt8]], contentType: String, sse: [UInt8]?)] = [:]
    /// When set, every call fails as an unreachable store would.
    var isDown = false
    /// Every part stored, in order: its number and size.
    private(set) var partsSent: [(number: Int, size: Int)] = []
    /// Stream bodies are read half-way and then again from their start (a retry).
    var rereadsStreams = false
    /// Keys the listing returns whatever the prefix (a store that misbehaves).
    var extraListedKeys: [String] = []

    init(bucket: String = "depot") { self.bucket = bucket }

    /// Puts an object as if written at `lastModified` (nil: undated), e.g. an orphan.
    func plant(_ key: String, bytes: [UInt8] = [1], lastModified: Date?) {
        objects[key] = Object(bytes: bytes, contentType: "application/octet-stream", sseKey: nil, lastModified: lastModified)
    }

    private func up() throws { if isDown { throw StoreError.unavailable("store down (test)") } }

    private func read(_ body: StoreBody) throws -> [UInt8] {
        switch body {
        case .bytes(let b): return b
        case .digestedBytes(let b, let sha256):
            // As AWS and MinIO answer (SeaweedFS does not check).
            guard Hex.encode(DigestHasher.hash(.sha256, b)) == sha256 else { throw StoreError.rejected(status: 400, code: "XAmzContentSHA256Mismatch") }
            return b
        case .stream(let source, let length):
            // Pulls in 100 kB reads; with `rereadsStreams`, reads half and starts
            // over once, as libcurl does when it retries on a fresh connection.
            var out = [UInt8](repeating: 0, count: Int(length))
            var done = 0
            var restarted = !rereadsStreams
            while done < out.count {
                let n = try out.withUnsafeMutableBytes { raw in
                    try source.read(at: Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: raw[done..<min(raw.count, done + 100_000)]))
                }
                if n == 0 { throw StoreError.unavailable("upload source ended early (test)") }
                done += n
                if !restarted, done >= out.count / 2 { (restarted, done) = (true, 0) }
            }
            return out
        case .file(let fd, let offset, let length):
            var out = [UInt8](repeating: 0, count: Int(length))
            var done = 0
            while done < out.count {
                let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done)) }
                if n <= 0 { break }
                done += n
            }
            return Array(out.prefix(done))
        }
    }

    private static func etag(_ bytes: [UInt8]) -> String { "\"" + Hex.encode(DigestHasher.hash(.md5, bytes)) + "\"" }

    func ping() throws { try up() }

    func putObject(key: String, body: StoreBody, contentType: String, sse: SSECustomerKey?) throws -> String {
        try up()
        let bytes = try read(body)
        objects[key] = Object(bytes: bytes, contentType: contentType, sseKey: sse?.key, lastModified: Date())
        return Self.etag(bytes)
    }

    func headObject(key: String, sse: SSECustomerKey?) throws -> StoreObjectInfo? {
        try up()
        guard let o = objects[key] else { return nil }
        guard o.sseKey == sse?.key else { throw StoreError.rejected(status: 400, code: "InvalidRequest") }
        return StoreObjectInfo(key: key, size: Int64(o.bytes.count), etag: Self.etag(o.bytes), lastModified: o.lastModified, contentType: o.contentType)
    }

    func getObject(key: String, sse: SSECustomerKey?, maxBytes: Int) throws -> [UInt8]? {
        try up()
        guard let o = objects[key] else { return nil }
        guard o.sseKey == sse?.key else { throw StoreError.rejected(status: 400, code: "InvalidRequest") }
        guard o.bytes.count <= maxBytes else { throw StoreError.rejected(status: 200, code: "ObjectTooLarge") }
        return o.bytes
    }

    func getObjectRange(key: String, sse: SSECustomerKey?, offset: Int64, length: Int64) throws -> [UInt8] {
        try up()
        guard let o = objects[key] else { throw StoreError.notFound }
        guard o.sseKey == sse?.key else { throw StoreError.rejected(status: 400, code: "InvalidRequest") }
        let start = min(Int(offset), o.bytes.count)
        return Array(o.bytes[start..<min(start + Int(length), o.bytes.count)])
    }

    func deleteObject(key: String) throws {
        try up()
        objects[key] = nil
    }

    func listObjects(prefix: String, continuationToken: String?, maxKeys: Int) throws -> StoreListPage {
        try up()
        if let continuationToken, !objects.keys.contains(continuationToken) {
            throw StoreError.rejected(status: 400, code: "InvalidArgument")
        }
        let keys = (objects.keys.filter { $0.hasPrefix(prefix) } + extraListedKeys).sorted()
            .filter { continuationToken == nil || $0 > continuationToken! }
        let page = Array(keys.prefix(maxKeys))
        let infos = page.map { key -> StoreObjectInfo in
            let o = objects[key] ?? Object(bytes: [], contentType: "", sseKey: nil, lastModified: Date())
            return StoreObjectInfo(key: key, size: Int64(o.bytes.count), etag: Self.etag(o.bytes), lastModified: o.lastModified, contentType: nil)
        }
        return StoreListPage(objects: infos, nextContinuationToken: keys.count > maxKeys ? page.last : nil)
    }

    func createMultipartUpload(key: String, contentType: String, sse: SSECustomerKey?) throws -> String {
        try up()
        let id = UUID().uuidString
        multipart[id] = (key, [:], contentType, sse?.key)
        return id
    }

    func uploadPart(key: String, uploadID: String, partNumber: Int, body: StoreBody, sse: SSECustomerKey?) throws -> String {
        try up()
        guard multipart[uploadID]?.key == key else { throw StoreError.notFound }
        let bytes = try read(body)
        multipart[uploadID]!.parts[partNumber] = bytes
        partsSent.append((partNumber, bytes.count))
        return Self.etag(bytes)
    }

    func completeMultipartUpload(key: String, uploadID: String, parts: [(number: Int, etag: String)], sse: SSECustomerKey?) throws -> String {
        try up()
        guard let upload = multipart.removeValue(forKey: uploadID), upload.key == key else {
            throw StoreError.notFound
        }
        let bytes = parts.sorted { $0.number < $1.number }.flatMap { upload.parts[$0.number] ?? [] }
        objects[key] = Object(bytes: bytes, contentType: upload.contentType, sseKey: upload.sse, lastModified: Date())
        return "\"" + Hex.encode(DigestHasher.hash(.md5, bytes)) + "-\(parts.count)\""
    }

    func abortMultipartUpload(key: String, uploadID: String) throws {
        try up()
        // As S3: an unknown (or already aborted) upload is 404 NoSuchUpload.
        guard multipart.removeValue(forKey: uploadID) != nil else { throw StoreError.notFound }
    }

    func listMultipartUploads(prefix: String) throws -> [StoreMultipartUpload] {
        try up()
        return multipart.filter { $0.value.key.hasPrefix(prefix) }
            .map { StoreMultipartUpload(key: $0.value.key, uploadID: $0.key, initiated: Date()) }
    }

    func presign(method: String, key: String, expiresIn: Int, sse: SSECustomerKey?,
                 extraQuery: [(String, String)], now: Date) -> (url: String, headers: [(String, String)]) {
        ("http://store.test/\(bucket)/\(key)?X-Amz-Expires=\(expiresIn)&X-Amz-Signature=test", [("Host", "store.test")] + (sse?.headers ?? []))
    }
}
