import DepotCrypto
import DepotEncoding
import Foundation

/// AWS Signature Version 4 for S3: pure functions, no I/O, so every step can be
/// checked against the examples in the AWS documentation.
///
/// Paths handed to the signer are *raw* (not yet percent-encoded); the signer
/// encodes each segment once, the way S3 expects (S3 does not double-encode).
public struct SigV4Signer {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public let accessKey: String
    public let region: String
    public let service: String
    private let secretKey: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    // MARK: - Encoding

    /// RFC 3986 percent-encoding as S3 wants it: A-Z a-z 0-9 - . _ ~ kept,
    /// everything else (UTF-8 bytes) as %XX uppercase; '/' kept when `keepSlash`.
    public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        PercentEncoding.encode(text, allowing: keepSlash ? .unreservedAndSlash : .unreserved)
    }

    /// The canonical URI of a raw path ("/bucket/some key"): every segment encoded, '/' kept.
    public static func canonicalURI(_ rawPath: String) -> String {
        let path = rawPath.hasPrefix("/") ? rawPath : "/" + rawPath
        return uriEncode(path, keepSlash: true)
    }

    /// Canonical query string: names and values encoded ('/' too), sorted by name then value.
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        var encoded: [(name: String, value: String)] = []
        for (name, value) in query {
            encoded.append((uriEncode(name, keepSlash: false), uriEncode(value, keepSlash: false)))
        }
        encoded.sort { (a, b) -> Bool in a.name == b.name ? a.value < b.value : a.name < b.name }
        return encoded.map { (pair) -> String in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// `(amzDate "yyyyMMdd'T'HHmmss'Z'", dateStamp "yyyyMMdd")` in UTC.
    public static func timestamps(_ date: Date) -> (amzDate: String, dateStamp: String) {
        let amzDate = UTCTimestamp.format(Int64(date.timeIntervalSince1970.rounded(.down)), .basic)
        return (amzDate, String(amzDate.prefix(8)))
    }

    // MARK: - Steps

    /// Canonical headers: lowercase names, values trimmed with inner space runs
    /// collapsed, sorted by name; repeated names joined with ','.
    /// Returns the header block (every line ending in "\n") and the signed-header list.
    public static func canonicalHeaders(_ headers: [(String, String)]) -> (block: String, signed: String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            merged[name.lowercased(), default: []].append(normalizeHeaderValue(value))
        }
        let names = merged.keys.sorted()
        let block = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    static func normalizeHeaderValue(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for ch in value.trimmingCharacters(in: .whitespaces) {
            if ch == " " || ch == "\t" {
                pendingSpace = true
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(ch)
            }
        }
        return out
    }

    public func canonicalRequest(method: String, rawPath: String, query: [(String, String)],
                                 headers: [(String, String)], payloadHash: String) -> String {
        let canonical = Self.canonicalHeaders(headers)
        return [
            method.uppercased(),
            Self.canonicalURI(rawPath),
            Self.canonicalQuery(query),
            canonical.block,
            canonical.signed,
            payloadHash,
        ].joined(separator: "\n")
    }

    public func scope(dateStamp: String) -> String {
        "\(dateStamp)/\(region)/\(service)/aws4_request"
    }

    public func stringToSign(canonicalRequest: String, amzDate: String) -> String {
        [
            Self.algorithm,
            amzDate,
            scope(dateStamp: String(amzDate.prefix(8))),
            Hex.encode(DigestHasher.hash(.sha256, Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
    }

    public func signingKey(dateStamp: String) -> [UInt8] {
        let kDate = HMAC.sha256(key: Array(("AWS4" + secretKey).utf8), message: Array(dateStamp.utf8))
        let kRegion = HMAC.sha256(key: kDate, message: Array(region.utf8))
        let kService = HMAC.sha256(key: kRegion, message: Array(service.utf8))
        return HMAC.sha256(key: kService, message: Array("aws4_request".utf8))
    }

    public func signature(stringToSign: String, dateStamp: String) -> String {
        Hex.encode(HMAC.sha256(key: signingKey(dateStamp: dateStamp), message: Array(stringToSign.utf8)))
    }

    // MARK: - Header form

    /// The Authorization header value. `headers` must already hold every header
    /// to sign, including `host`, `x-amz-date` and `x-amz-content-sha256`.
    public func authorization(method: String, rawPath: String, query: [(String, String)],
                              headers: [(String, String)], payloadHash: String, amzDate: String) -> String {
        let request = canonicalRequest(method: method, rawPath: rawPath, query: query,
                                       headers: headers, payloadHash: payloadHash)
        let dateStamp = String(amzDate.prefix(8))
        let sig = signature(stringToSign: stringToSign(canonicalRequest: request, amzDate: amzDate),
                            dateStamp: dateStamp)
        let signed = Self.canonicalHeaders(headers).signed
        return "\(Self.algorithm) Credential=\(accessKey)/\(scope(dateStamp: dateStamp)),SignedHeaders=\(signed),Signature=\(sig)"
    }

    /// Adds `x-amz-date` and `x-amz-content-sha256` to `headers` (which must hold
    /// `host`) and appends `Authorization`: the full list of headers to send.
    public func signedHeaders(method: String, rawPath: String, query: [(String, String)],
                              headers: [(String, String)], payloadHash: String, date: Date) -> [(String, String)] {
        let amzDate = Self.timestamps(date).amzDate
        var all = headers
        all.append(("x-amz-date", amzDate))
        all.append(("x-amz-content-sha256", payloadHash))
        let auth = authorization(method: method, rawPath: rawPath, query: query,
                                 headers: all, payloadHash: payloadHash, amzDate: amzDate)
        all.append(("Authorization", auth))
        return all
    }

    // MARK: - Query (presigned) form

    /// The full query of a presigned URL: encoded, sorted, `X-Amz-Signature` last.
    /// `headers` are the headers the caller will send, all of them signed (at least `host`).
    public func presignedQuery(method: String, rawPath: String, query: [(String, String)],
                               headers: [(String, String)], expiresIn: Int, date: Date) -> String {
        let (amzDate, dateStamp) = Self.timestamps(date)
        var params = query
        params.append(("X-Amz-Algorithm", Self.algorithm))
        params.append(("X-Amz-Credential", "\(accessKey)/\(scope(dateStamp: dateStamp))"))
        params.append(("X-Amz-Date", amzDate))
        params.append(("X-Amz-Expires", String(expiresIn)))
        params.append(("X-Amz-SignedHeaders", Self.canonicalHeaders(headers).signed))
        let request = canonicalRequest(method: method, rawPath: rawPath, query: params,
                                       headers: headers, payloadHash: Self.unsignedPayload)
        let sig = signature(stringToSign: stringToSign(canonicalRequest: request, amzDate: amzDate),
                            dateStamp: dateStamp)
        return Self.canonicalQuery(params) + "&X-Amz-Signature=" + sig
    }
}
