import DepotDomain
@testable import DepotMetadata
// Re-exported so every file of this target (MetadataStoreTests uses SplitMix64) sees the shared helpers.
@_exported import DepotTestSupport
import Foundation

/// The backends the metadata tests run on: SQLite always; PostgreSQL when
/// DEPOT_TEST_POSTGRESQL_URL names a server (`make unit` starts one, see
/// scripts/postgres_server.py) with the password in
/// DEPOT_TEST_POSTGRESQL_PASSWORD_FILE.
enum TestBackend: String, CustomStringConvertible, CaseIterable {
    case sqlite, postgresql

    static var available: [TestBackend] { PostgreSQLTestServer.url == nil ? [.sqlite] : [.sqlite, .postgresql] }
    var description: String { rawValue }
}

enum PostgreSQLTestServer {
    static var url: String? {
        guard let u = ProcessInfo.processInfo.environment["DEPOT_TEST_POSTGRESQL_URL"], !u.isEmpty else { return nil }
        return u
    }

    static var password: String? {
        guard let file = ProcessInfo.processInfo.environment["DEPOT_TEST_POSTGRESQL_PASSWORD_FILE"],
              let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .newlines)
    }

    /// The server's URL with `search_path` set to `schema`: each test's
    /// database is a schema of its own on the one test server.
    static func url(schema: String) -> String {
        let base = url!
        return base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
    }

    static func admin() throws -> PostgreSQLConnection {
        try PostgreSQLConnection(url: url!, password: password)
    }
}

/// A fresh database removed when the value goes away: a SQLite file in its
/// own temp directory, or a PostgreSQL schema of its own.
final class TempDatabase {
    let backend: TestBackend
    let directory: URL
    let schema = "depot_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    var path: String { directory.appendingPathComponent("depot.sqlite3").path }

    init(_ backend: TestBackend = .sqlite) throws {
        self.backend = backend
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("depot-metadata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if backend == .postgresql { try PostgreSQLTestServer.admin().execute("CREATE SCHEMA \(schema)") }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
        if backend == .postgresql { try? PostgreSQLTestServer.admin().execute("DROP SCHEMA \(schema) CASCADE") }
    }

    /// A new connection to this database, as another worker or node opens it.
    func connect(busyTimeoutMilliseconds: Int32 = 5000) throws -> SQLMetadataStore {
        switch backend {
        case .sqlite: return try SQLiteMetadataStore(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        case .postgresql:
            return try PostgreSQLMetadataStore(url: PostgreSQLTestServer.url(schema: schema), password: PostgreSQLTestServer.password,
                                               lockTimeoutMilliseconds: busyTimeoutMilliseconds)
        }
    }

    /// A store on this database, migrated and seeded with the built-in plans plus a tiny one.
    func store(busyTimeoutMilliseconds: Int32 = 5000) throws -> SQLMetadataStore {
        let store = try connect(busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        try store.migrate()
        try store.seedPlans([.individual, .organization, Fixture.tinyPlan])
        return store
    }
}

enum Fixture {
    static let org = "0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5e"
    static let otherOrg = "99999999-8888-4777-8666-555555555555"
    static let user = "7d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
    static let otherUser = "11111111-2222-4333-8444-555555555555"
    static let now: Int64 = 1_796_033_700
    /// 1000 bytes, 600 per file, 3 files.
    static let tinyPlan = Plan(name: "tiny", quotaBytes: 1000, maxFileSizeBytes: 600, maxFiles: 3)
}

/// A file record as the upload route would make it.
func makeFile(org: String = Fixture.org, user: String = Fixture.user, name: String, original: String? = nil, size: Int64,
              category: FileCategory = .general, uploadedAt: Int64 = Fixture.now, workflowID: String? = nil,
              runID: String? = nil, direction: ObjectKeys.Direction? = nil) -> StoredFile {
    let key = workflowID.map { "organizations/\(org)/workflows/\($0)/runs/\(runID ?? "r")/\(direction?.rawValue ?? "input")/\(UUID().uuidString.lowercased())/\(name)" }
        ?? "organizations/\(org)/files/\(user)/\(name)"
    return StoredFile(id: UUIDs.random(), organizationID: org, userID: user, objectKey: key, objectName: name,
                      originalFilename: original ?? name, size: size, contentType: "application/octet-stream", category: category,
                      sha256: String(repeating: "0", count: 64), etag: "etag-\(name)", keyID: "k1", uploadedAt: uploadedAt,
                      bucket: "depot", workflowID: workflowID, runID: runID, direction: direction)
}

extension MetadataStore {
    /// Reserves and commits `file` the way an upload does; fails the test run loudly if refused.
    @discardableResult
    func store(_ file: StoredFile, workflowName: String? = nil) throws -> StoredFile {
        let reservation = try reserve(organizationID: file.organizationID, userID: file.userID, bytes: file.size, objectKey: file.objectKey,
                                      ownerPID: 1, ownerStart: "boot", now: file.uploadedAt, ttl: 3600)
        guard case .success(let id) = reservation else { throw TestFailure("reservation refused: \(reservation)") }
        guard try commitUpload(reservationID: id, file: file, workflowName: workflowName) else { throw TestFailure("commit refused") }
        return file
    }

    func quota(_ org: String = Fixture.org) throws -> QuotaState? { try account(organizationID: org)?.quota }

    func pendingKeys() throws -> [String] { try pendingDeletes().map(\.objectKey).sorted() }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
