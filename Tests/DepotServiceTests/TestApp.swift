import DepotAntivirus
import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata
@testable import DepotService
import DepotStore
import Foundation

/// The application driven in-process, as a worker runs it but without
/// sockets: a real SQLite database in a temp directory (migrated, plans
/// seeded), an in-memory object store, a fixed clock, and tokens signed with
/// the configuration's HS256 secret.
final class TestApp {
    let directory: ConfigDirectory
    let config: DepotConfiguration
    let metadata: MetadataStore
    let store = InMemoryObjectStore()
    var now = Date(timeIntervalSince1970: 1_800_000_000)
    private(set) var app: DepotApplication!

    static let org = "11111111-1111-4111-8111-111111111111"
    static let user = "22222222-2222-4222-8222-222222222222"
    static let otherUser = "33333333-3333-4333-8333-333333333333"
    static let otherOrg = "44444444-4444-4444-8444-444444444444"

    /// `extraConfig` is appended to the minimal configuration (e.g. plan
    /// sections); `files` are written beside it first (secrets it names).
    /// `scanner` stands in for the `[antivirus]` section's clamd.
    init(extraConfig: String = "", files: [String: String] = [:], scanner: MalwareScanner? = nil) throws {
        directory = try ConfigDirectory()
        for (name, text) in files { try directory.write(name, text) }
        let path = try directory.config(ConfigDirectory.minimal + "\n[database]\npath = depot.sqlite3\n" + extraConfig)
        var config = try DepotConfiguration.load(path: path)
        config.publicURL = "https://depot.test"
        self.config = config
        metadata = try config.openMetadata()
        try metadata.migrate()
        try metadata.seedPlans(config.plans)
        try metadata.registerBucket(config.store.bucket, now: 1_700_000_000)
        let context = ServiceContext(config: config, metadata: metadata, store: store, clock: WallClock { [unowned self] in self.now },
                                     scanner: scanner)
        app = DepotApplication(context: context)
    }

    /// A token for `user` in `org` (admin when asked), valid an hour from the clock.
    func token(user: String = TestApp.user, org: String = TestApp.org, admin: Bool = false, acct: String? = nil,
               expiresIn: Int = 3600) -> String {
        var claims: [String: Any] = ["sub": user, "org": org, "role": admin ? "admin" : "member",
                                     "exp": Int(now.timeIntervalSince1970) + expiresIn]
        if let acct { claims["acct"] = acct }
        return JWTSigner.hs256(secret: Array(ConfigDirectory.jwtSecret.utf8), claims: claims)
    }

    /// One request through the application; `path` may carry a query string.
    func request(_ method: String, _ path: String, token: String? = nil, headers: [(String, String)] = [],
                 body: RequestBody = .none) -> TestResponse {
        let parts = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var h = HTTPHeaders(headers)
        if let token { h.add("Authorization", "Bearer " + token) }
        let request = HTTPRequest(method: method, rawPath: String(parts[0]), query: QueryParameters(parts.count > 1 ? String(parts[1]) : ""),
                                  headers: h, requestID: "test-\(UUID().uuidString.prefix(8))", body: body)
        return TestResponse(app.handle(request))
    }

    func get(_ path: String, token: String? = nil) -> TestResponse { request("GET", path, token: token) }

    static let boundary = "----depot-test-boundary"

    /// A `multipart/form-data` body: `fields`, then the file part, then `trailingFields`.
    static func form(_ file: [UInt8], filename: String = "report.csv", contentType: String = "text/csv",
                     fields: [(String, String)] = [], trailingFields: [(String, String)] = []) -> [UInt8] {
        func field(_ name: String, _ value: String) -> [UInt8] {
            Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        var body = fields.flatMap { field($0.0, $0.1) }
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: \(contentType)\r\n\r\n".utf8)
        body += file
        body += Array("\r\n".utf8)
        body += trailingFields.flatMap { field($0.0, $0.1) }
        body += Array("--\(boundary)--\r\n".utf8)
        return body
    }

    /// A `multipart/form-data` upload of `file` with the given fields; the body
    /// is handed over as a file nginx wrote.
    func upload(_ file: [UInt8], filename: String = "report.csv", contentType: String = "text/csv",
                fields: [(String, String)] = [], trailingFields: [(String, String)] = [], token: String?) throws -> TestResponse {
        let body = Self.form(file, filename: filename, contentType: contentType, fields: fields, trailingFields: trailingFields)
        let path = directory.url.appendingPathComponent("body-\(UUID().uuidString)").path
        try Data(body).write(to: URL(fileURLWithPath: path))
        return request("POST", "/api/v1/storage/upload", token: token,
                       headers: [("Content-Type", "multipart/form-data; boundary=\(Self.boundary)")],
                       body: .file(path: path, length: Int64(body.count)))
    }

    /// A request body that delivers `text` (a JSON request, say) in one piece.
    static func body(_ text: String) -> RequestBody {
        var position = 0
        let bytes = Array(text.utf8)
        return RequestBody.stream(length: Int64(bytes.count)) { buffer in
            let n = min(buffer.count, bytes.count - position)
            guard n > 0 else { return 0 }
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
            position += n
            return n
        }
    }

    /// An upload whose body streams in as nginx forwards it unbuffered:
    /// `declaredLength` is the Content-Length (nil: none), the stream ends
    /// after `deliver` bytes (a client that went away), and `bytesRead`
    /// counts what the application pulled.
    func streamedUpload(_ body: [UInt8], declaredLength: Int64?, deliver: Int? = nil, token: String?) -> (TestResponse, bytesRead: Int) {
        var position = 0
        let end = min(deliver ?? body.count, body.count)
        let stream = RequestBody.stream(length: declaredLength) { buffer in
            let n = min(buffer.count, end - position, 64 * 1024)
            guard n > 0 else { return 0 }
            body.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
            position += n
            return n
        }
        let response = request("POST", "/api/v1/storage/upload", token: token,
                               headers: [("Content-Type", "multipart/form-data; boundary=\(Self.boundary)")], body: stream)
        return (response, position)
    }

    /// Uploads a small file and returns its record as JSON.
    @discardableResult
    func uploadFile(_ text: String = "a,b\n1,2\n", filename: String = "report.csv", user: String = TestApp.user) throws -> [String: Any] {
        let response = try upload(Array(text.utf8), filename: filename, token: token(user: user))
        guard response.status == 201 else { throw TestFailure("upload answered \(response.status): \(response.text)") }
        return response.json
    }
}

/// A response with the views tests read.
struct TestResponse {
    let response: HTTPResponse
    init(_ response: HTTPResponse) { self.response = response }

    var status: Int { response.status }
    var text: String { String(decoding: response.body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:] }
    /// The contract's error code of a JSON error body.
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String ?? json["code"] as? String }
    func header(_ name: String) -> String? { response.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
