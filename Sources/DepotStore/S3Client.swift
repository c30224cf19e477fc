import DepotCrypto
import DepotEncoding
import Foundation

/// S3 client over libcurl: path-style addressing, SigV4, SSE-C, multipart uploads.
///
/// One per worker process. NOT thread-safe: it reuses one curl easy handle so
/// connections to the store stay alive between requests.
/// ETags are returned without their surrounding quotes.
public final class S3Client {
    public let configuration: StoreConfiguration
    public let signer: SigV4Signer
    /// `scheme://authority` of the endpoint, as configured.
    let baseURL: String
    /// The Host header value that is sent and signed (default port omitted).
    public let hostHeader: String
    private let connection: CurlConnection

    /// Cap on response bodies kept in memory (XML answers).
    static let responseLimit = 1 << 20

    public init(_ config: StoreConfiguration) {
        configuration = config
        signer = SigV4Signer(accessKey: config.accessKey, secretKey: config.secretKey, region: config.region)
        let parsed = Self.parseEndpoint(config.endpoint)
        baseURL = parsed.base
        hostHeader = parsed.host
        connection = CurlConnection(connectTimeout: config.connectTimeoutSeconds,
                                    requestTimeout: config.requestTimeoutSeconds,
                                    lowSpeedTime: config.lowSpeedTimeoutSeconds,
                                    caFile: config.caFile)
    }

    /// "https://Host:443/" -> base "https://host:443", host header "host".
    static func parseEndpoint(_ endpoint: String) -> (base: String, host: String) {
        var text = endpoint.trimmingCharacters(in: .whitespaces)
        var scheme = "http"
        if let range = text.range(of: "://") {
            scheme = text[..<range.lowerBound].lowercased()
            text = String(text[range.upperBound...])
        }
        let authority = String(text.prefix { $0 != "/" && $0 != "?" }).lowercased()
        var host = authority
        if scheme == "http", host.hasSuffix(":80") { host.removeLast(3) }
        if scheme == "https", host.hasSuffix(":443") { host.removeLast(4) }
        return ("\(scheme)://\(authority)", host)
    }

    // MARK: - Bucket

    /// Creates the configured bucket; an existing bucket we own counts as success.
    public func createBucketIfNeeded() throws {
        var body: [UInt8] = []
        if configuration.region != "us-east-1" && !configuration.region.isEmpty {
            body = Array(("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "<LocationConstraint>\(MiniXML.escape(configuration.region))</LocationConstraint>"
                + "</CreateBucketConfiguration>").utf8)
        }
        let answer = try send("PUT", key: nil, body: .bytes(body),
                              headers: body.isEmpty ? [] : [("Content-Type", "application/xml")],
                              payloadHash: Hex.encode(DigestHasher.hash(.sha256, body)))
        if (200..<300).contains(answer.status) { return }
        if answer.status == 409 {
            let code = Self.errorCode(answer)
            if code == "BucketAlreadyOwnedByYou" { return }
            if code == "BucketAlreadyExists" {
                try ping()  // exists: fine if it is reachable with our credentials
                return
            }
        }
        throw Self.failure(answer)
    }

    /// Cheap reachability and credentials check: HEAD on the bucket.
    public func ping() throws {
        let answer = try send("HEAD", key: nil)
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
    }

    // MARK: - Objects

    /// Uploads one object; returns its ETag.
    public func putObject(key: String, body: StoreBody, contentType: String, sse: SSECustomerKey?) throws -> String {
        let answer = try send("PUT", key: key, body: body,
                              headers: [("Content-Type", contentType)] + (sse?.headers ?? []),
                              payloadHash: Self.payloadHash(body))
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
        return Self.unquote(answer.header("etag") ?? "")
    }

    /// Object metadata, or nil when the object does not exist.
    /// An SSE-C object needs its key here (SeaweedFS answers 400 without it).
    public func headObject(key: String, sse: SSECustomerKey?) throws -> StoreObjectInfo? {
        let answer = try send("HEAD", key: key, headers: sse?.headers ?? [])
        if answer.status == 404 { return nil }
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
        return Self.objectInfo(key: key, headAnswer: answer)
    }

    /// A HEAD answer's metadata; an absent or unparsable Last-Modified leaves the object undated.
    static func objectInfo(key: String, headAnswer answer: HTTPAnswer) -> StoreObjectInfo {
        StoreObjectInfo(key: key, size: answer.header("content-length").flatMap { Int64($0) } ?? 0,
                        etag: Self.unquote(answer.header("etag") ?? ""),
                        lastModified: answer.header("last-modified").flatMap(HTTPDates.parseRFC1123),
                        contentType: answer.header("content-type"))
    }

    /// A small object's bytes (the store's answer is cut at `maxBytes`:
    /// larger objects are refused); nil when there is no such object.
    public func getObject(key: String, sse: SSECustomerKey?, maxBytes: Int) throws -> [UInt8]? {
        let answer = try send("GET", key: key, headers: sse?.headers ?? [], responseLimit: maxBytes + 1)
        if answer.status == 404 { return nil }
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
        guard answer.body.count <= maxBytes else { throw StoreError.rejected(status: answer.status, code: "ObjectTooLarge") }
        return answer.body
    }

    /// A byte range of an object (HTTP `Range`); a missing object is `.notFound`.
    public func getObjectRange(key: String, sse: SSECustomerKey?, offset: Int64, length: Int64) throws -> [UInt8] {
        guard length > 0 else { return [] }
        let range = ("Range", "bytes=\(offset)-\(offset + length - 1)")
        let answer = try send("GET", key: key, headers: [range] + (sse?.headers ?? []), responseLimit: Int(length) + 1)
        if answer.status == 404 { throw StoreError.notFound }
        guard answer.status == 206 || answer.status == 200 else { throw Self.failure(answer) }
        // A store that ignored the range sent the whole object: only at offset 0 is its prefix the range.
        if answer.status == 200 {
            guard offset == 0 else { throw StoreError.rejected(status: 200, code: "RangeIgnored") }
            return Array(answer.body.prefix(Int(length)))
        }
        return answer.body
    }

    /// Deletes an object; a missing object counts as success.
    public func deleteObject(key: String) throws {
        let answer = try send("DELETE", key: key)
        if (200..<300).contains(answer.status) || answer.status == 404 { return }
        throw Self.failure(answer)
    }

    /// One page of ListObjectsV2. `maxKeys` is clamped to 1...1000.
    public func listObjects(prefix: String, continuationToken: String?, maxKeys: Int) throws -> StoreListPage {
        var query: [(String, String)] = [("list-type", "2"), ("prefix", prefix),
                                         ("max-keys", String(min(max(maxKeys, 1), 1000)))]
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let answer = try send("GET", key: nil, query: query)
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
        return try Self.listPage(answer.body)
    }

    /// Reads a ListObjectsV2 answer. Fails closed: an entry without a key
    /// makes the whole answer unreadable (a blank key would name the bucket
    /// itself), and an entry whose LastModified is missing or unparsable is
    /// listed undated (`lastModified` nil), never as the epoch.
    static func listPage(_ body: [UInt8]) throws -> StoreListPage {
        guard let root = MiniXML.parse(body), root.name == "ListBucketResult" else {
            throw StoreError.unavailable("unreadable ListObjectsV2 answer")
        }
        let objects = try root.all("Contents").map { item in
            guard let key = item.child("Key")?.text, !key.isEmpty else {
                throw StoreError.unavailable("ListObjectsV2 answer has an entry without a key")
            }
            return StoreObjectInfo(key: key,
                                   size: item.value("Size").flatMap { Int64($0) } ?? 0,
                                   etag: Self.unquote(item.value("ETag") ?? ""),
                                   lastModified: item.value("LastModified").flatMap(HTTPDates.parseISO8601),
                                   contentType: nil)
        }
        let truncated = root.value("IsTruncated") == "true"
        let token = root.child("NextContinuationToken")?.text
        return StoreListPage(objects: objects, nextContinuationToken: truncated && token?.isEmpty == false ? token : nil)
    }

    // MARK: - Multipart

    /// Starts a multipart upload; returns its upload id.
    public func createMultipartUpload(key: String, contentType: String, sse: SSECustomerKey?) throws -> String {
        let answer = try send("POST", key: key, query: [("uploads", "")], body: .bytes([]),
                              headers: [("Content-Type", contentType)] + (sse?.headers ?? []),
                              payloadHash: SigV4Signer.emptyPayloadHash)
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
        guard let root = MiniXML.parse(answer.body), let id = root.value("UploadId"), !id.isEmpty else {
            throw StoreError.unavailable("unreadable CreateMultipartUpload answer")
        }
        return id
    }

    /// Uploads one part (1...10000; every part but the last at least 5 MiB); returns its ETag.
    /// Pass the upload's SSE-C key for EVERY part: SeaweedFS 4.48 accepts a part without
    /// the SSE-C headers on an SSE-C upload and stores that part in plaintext.
    public func uploadPart(key: String, uploadID: String, partNumber: Int, body: StoreBody,
                           sse: SSECustomerKey?) throws -> String {
        let answer = try send("PUT", key: key, query: [("partNumber", String(partNumber)), ("uploadId", uploadID)],
                              body: body, headers: sse?.headers ?? [], payloadHash: Self.payloadHash(body))
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
        return Self.unquote(answer.header("etag") ?? "")
    }

    /// Completes a multipart upload; returns the object's ETag.
    public func completeMultipartUpload(key: String, uploadID: String, parts: [(number: Int, etag: String)],
                                        sse: SSECustomerKey?) throws -> String {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(MiniXML.escape("\"" + Self.unquote(part.etag) + "\""))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        let answer = try send("POST", key: key, query: [("uploadId", uploadID)], body: .bytes(body),
                              headers: [("Content-Type", "application/xml")] + (sse?.headers ?? []),
                              payloadHash: Hex.encode(DigestHasher.hash(.sha256, body)))
        guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
        // S3 may answer 200 and still report an error in the body.
        guard let root = MiniXML.parse(answer.body) else {
            throw StoreError.unavailable("unreadable CompleteMultipartUpload answer")
        }
        if root.name == "Error" {
            let code = root.value("Code") ?? "Unknown"
            if ["InternalError", "SlowDown", "ServiceUnavailable"].contains(code) {
                throw StoreError.unavailable("CompleteMultipartUpload: \(code)")
            }
            throw StoreError.rejected(status: answer.status, code: code)
        }
        return Self.unquote(root.value("ETag") ?? answer.header("etag") ?? "")
    }

    /// Aborts a multipart upload; an upload that no longer exists counts as success.
    public func abortMultipartUpload(key: String, uploadID: String) throws {
        let answer = try send("DELETE", key: key, query: [("uploadId", uploadID)])
        if (200..<300).contains(answer.status) || answer.status == 404 { return }
        throw Self.failure(answer)
    }

    /// Every in-progress multipart upload under `prefix` (follows pagination).
    public func listMultipartUploads(prefix: String) throws -> [StoreMultipartUpload] {
        var uploads: [StoreMultipartUpload] = []
        var keyMarker: String?
        var uploadMarker: String?
        for _ in 0..<10_000 {
            var query: [(String, String)] = [("uploads", ""), ("prefix", prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadMarker { query.append(("upload-id-marker", uploadMarker)) }
            let answer = try send("GET", key: nil, query: query)
            guard (200..<300).contains(answer.status) else { throw Self.failure(answer) }
            let (root, page) = try Self.multipartUploadsPage(answer.body)
            uploads += page
            let nextKey = root.child("NextKeyMarker")?.text ?? ""
            let nextUpload = root.value("NextUploadIdMarker") ?? ""
            guard root.value("IsTruncated") == "true", !nextKey.isEmpty || !nextUpload.isEmpty,
                  nextKey != keyMarker || nextUpload != uploadMarker else { break }
            keyMarker = nextKey
            uploadMarker = nextUpload
        }
        return uploads
    }

    /// Reads one ListMultipartUploads answer, failing closed as `listPage`
    /// does: no key or upload id, unreadable; no parsable Initiated, undated.
    static func multipartUploadsPage(_ body: [UInt8]) throws -> (root: XMLNode, uploads: [StoreMultipartUpload]) {
        guard let root = MiniXML.parse(body), root.name == "ListMultipartUploadsResult" else {
            throw StoreError.unavailable("unreadable ListMultipartUploads answer")
        }
        let uploads = try root.all("Upload").map { item in
            guard let key = item.child("Key")?.text, !key.isEmpty, let uploadID = item.value("UploadId"), !uploadID.isEmpty else {
                throw StoreError.unavailable("ListMultipartUploads answer has an entry without a key or upload id")
            }
            return StoreMultipartUpload(key: key, uploadID: uploadID,
                                        initiated: item.value("Initiated").flatMap(HTTPDates.parseISO8601))
        }
        return (root, uploads)
    }

    // MARK: - Presigning

    /// SigV4 query-presigned URL for GET or HEAD on `key`.
    ///
    /// Signed headers: `host` and, when `sse` is given, the three SSE-C headers;
    /// the caller must send exactly the returned `headers` (Host first). The key
    /// never goes into the URL. `extraQuery` (e.g. `response-content-type`) is
    /// signed into the URL. `expiresIn` is clamped to 1...604800 seconds.
    public func presign(method: String, key: String, expiresIn: Int, sse: SSECustomerKey?,
                        extraQuery: [(String, String)], now: Date) -> (url: String, headers: [(String, String)]) {
        let headers = [("Host", hostHeader)] + (sse?.headers ?? [])
        let rawPath = objectPath(key)
        let query = signer.presignedQuery(method: method.uppercased(), rawPath: rawPath, query: extraQuery,
                                          headers: headers, expiresIn: min(max(expiresIn, 1), 604_800), date: now)
        return (baseURL + SigV4Signer.canonicalURI(rawPath) + "?" + query, headers)
    }

    // MARK: - Plumbing

    /// New connections the last request opened (0 when the kept-alive one was reused).
    var lastNewConnections: Int { connection.lastNewConnections }

    func objectPath(_ key: String?) -> String {
        guard let key else { return "/" + configuration.bucket }
        return "/" + configuration.bucket + "/" + key
    }

    static func payloadHash(_ body: StoreBody) -> String {
        switch body {
        case .bytes(let bytes): return Hex.encode(DigestHasher.hash(.sha256, bytes))
        case .digestedBytes(_, let sha256): return sha256
        case .file, .stream: return SigV4Signer.unsignedPayload  // streamed: never read twice
        }
    }

    /// Signs and sends one request; transport failures become `.unavailable`.
    func send(_ method: String, key: String?, query: [(String, String)] = [], body: StoreBody? = nil,
              headers: [(String, String)] = [], payloadHash: String = SigV4Signer.emptyPayloadHash,
              responseLimit: Int = S3Client.responseLimit) throws -> HTTPAnswer {
        let rawPath = objectPath(key)
        let all = signer.signedHeaders(method: method, rawPath: rawPath, query: query,
                                       headers: [("Host", hostHeader)] + headers,
                                       payloadHash: payloadHash, date: Date())
        var url = baseURL + SigV4Signer.canonicalURI(rawPath)
        if !query.isEmpty { url += "?" + SigV4Signer.canonicalQuery(query) }
        let source: CurlTransfer.Source
        switch body {
        case nil: source = .none
        case .bytes(let bytes)?, .digestedBytes(let bytes, _)?: source = .bytes(bytes)
        case .file(let fd, let offset, let length)?: source = .file(descriptor: fd, offset: offset, length: length)
        case .stream(let stream, let length)?: source = .stream(stream, length: length)
        }
        do {
            return try connection.perform(method: method, url: url, headers: all, body: source,
                                          responseLimit: responseLimit)
        } catch let failure as TransportFailure {
            throw StoreError.unavailable("\(method) \(rawPath): \(failure.message)")
        }
    }

    static func errorCode(_ answer: HTTPAnswer) -> String? {
        guard let root = MiniXML.parse(answer.body), root.name == "Error",
              let code = root.value("Code"), !code.isEmpty else { return nil }
        return code
    }

    /// Maps a non-2xx answer to a StoreError.
    static func failure(_ answer: HTTPAnswer) -> StoreError {
        let code = errorCode(answer)
        switch answer.status {
        case 404:
            return .notFound
        case 500...599, 408, 429:
            return .unavailable("store answered \(answer.status)" + (code.map { " \($0)" } ?? ""))
        default:
            return .rejected(status: answer.status, code: code ?? statusName(answer.status))
        }
    }

    /// A code for answers without an XML body (HEAD).
    static func statusName(_ status: Int) -> String {
        switch status {
        case 400: return "BadRequest"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 405: return "MethodNotAllowed"
        case 409: return "Conflict"
        case 411: return "MissingContentLength"
        case 412: return "PreconditionFailed"
        case 416: return "InvalidRange"
        default: return "HTTP\(status)"
        }
    }

    static func unquote(_ etag: String) -> String {
        var text = etag.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
            text = String(text.dropFirst().dropLast())
        }
        return text
    }
}
