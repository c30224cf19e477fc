import DepotCrypto
import Foundation

/// Where the object store is and how to talk to it.
public struct StoreConfiguration {
    /// `http://host:port` or `https://host[:port]`, no path (path-style addressing is used).
    public var endpoint: String
    public var region: String
    public var bucket: String
    public var accessKey: String
    public var secretKey: String
    /// PEM CA bundle used to verify an https endpoint (system bundle when nil).
    public var caFile: String?
    public var connectTimeoutSeconds: Int = 5
    /// Whole-request limit; large uploads need it generous.
    public var requestTimeoutSeconds: Int = 300
    /// A transfer slower than 1 byte/s for this long is abandoned.
    public var lowSpeedTimeoutSeconds: Int = 30

    public init(endpoint: String, region: String, bucket: String, accessKey: String, secretKey: String,
                caFile: String? = nil, connectTimeoutSeconds: Int = 5, requestTimeoutSeconds: Int = 300,
                lowSpeedTimeoutSeconds: Int = 30) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.caFile = caFile
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.lowSpeedTimeoutSeconds = lowSpeedTimeoutSeconds
    }
}

extension StoreConfiguration: CustomStringConvertible {
    /// Never shows the secret key.
    public var description: String {
        "StoreConfiguration(endpoint: \(endpoint), region: \(region), bucket: \(bucket), accessKey: \(accessKey))"
    }
}

/// An SSE-C (customer-provided) AES-256 key.
public struct SSECustomerKey {
    public let key: [UInt8]

    /// `key` must be 32 bytes (AES-256).
    public init(key: [UInt8]) {
        precondition(key.count == 32, "SSE-C keys are 32 bytes")
        self.key = key
    }

    /// The three `x-amz-server-side-encryption-customer-*` request headers.
    public var headers: [(String, String)] {
        [
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", Data(key).base64EncodedString()),
            ("x-amz-server-side-encryption-customer-key-MD5", Data(DigestHasher.hash(.md5, key)).base64EncodedString()),
        ]
    }
}

extension SSECustomerKey: CustomStringConvertible, CustomDebugStringConvertible {
    /// Never shows the key.
    public var description: String { "SSECustomerKey(<redacted>)" }
    public var debugDescription: String { description }
}

/// A request body.
public enum StoreBody {
    case bytes([UInt8])
    /// `length` bytes of an open file starting at `offset`, read with `pread` in
    /// chunks while sending; never loaded whole. The descriptor stays owned by the caller.
    case file(descriptor: Int32, offset: Int64, length: Int64)

    public var length: Int64 {
        switch self {
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, _, let length): return length
        }
    }
}

public struct StoreObjectInfo {
    public let key: String
    public let size: Int64
    /// Without surrounding quotes. SeaweedFS: the plaintext MD5 hex, also for SSE-C;
    /// multipart objects: "<hex>-<part count>".
    public let etag: String
    /// When the store last wrote the object; nil when the store gave no date
    /// or one that does not parse. Fails closed: an undated object is never
    /// "older" than anything, so whoever deletes by age (gc, fsck --repair)
    /// must keep what it cannot date (`isOlder(than:)` says so).
    public let lastModified: Date?
    /// Known from HEAD; nil in listings.
    public let contentType: String?

    public init(key: String, size: Int64, etag: String, lastModified: Date?, contentType: String?) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.contentType = contentType
    }

    /// True only when the object has a date and it is before `limit`; an
    /// undated object is never old enough to delete.
    public func isOlder(than limit: Date) -> Bool {
        guard let lastModified else { return false }
        return lastModified < limit
    }
}

public struct StoreListPage {
    public let objects: [StoreObjectInfo]
    /// nil on the last page.
    public let nextContinuationToken: String?

    public init(objects: [StoreObjectInfo], nextContinuationToken: String?) {
        self.objects = objects
        self.nextContinuationToken = nextContinuationToken
    }
}

public struct StoreMultipartUpload {
    public let key: String
    public let uploadID: String
    /// When the upload began; nil when the store gave no parsable date (the
    /// upload is then never old enough to abort: see `wasInitiated(before:)`).
    public let initiated: Date?

    public init(key: String, uploadID: String, initiated: Date?) {
        self.key = key
        self.uploadID = uploadID
        self.initiated = initiated
    }

    /// True only when the upload has a date and it is before `limit`.
    public func wasInitiated(before limit: Date) -> Bool {
        guard let initiated else { return false }
        return initiated < limit
    }
}

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
