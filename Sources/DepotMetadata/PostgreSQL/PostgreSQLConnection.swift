import CPostgreSQL
import Foundation

/// One libpq connection, synchronous (the workers are forked and
/// single-threaded), with prepared statements cached per connection.
///
/// A lost connection is answered with `unavailable` (503) and reopened by
/// the next call. A statement that failed because the connection was gone
/// before a transaction began is retried once on a new connection: nothing
/// of it can have taken effect. Inside a transaction nothing is retried and
/// nothing reconnects until the transaction has ended.
final class PostgreSQLConnection: SQLDatabase {
    private var connection: OpaquePointer?
    private let url: String
    private let password: String?
    private let lockTimeoutMilliseconds: Int32
    /// SQL as the shared statements spell it → the prepared statement's name.
    private var prepared: [String: String] = [:]
    private var inTransaction = false
    private(set) var changes = 0

    /// `url`: a libpq connection URI without a password; `password` apart,
    /// so the URL can be logged and kept in a configuration file.
    init(url: String, password: String?, lockTimeoutMilliseconds: Int32 = 5000) throws {
        self.url = url
        self.password = password
        self.lockTimeoutMilliseconds = lockTimeoutMilliseconds
        try connect()
    }

    deinit { PQfinish(connection) }

    private func connect() throws {
        if let connection { PQfinish(connection) }
        connection = nil
        prepared.removeAll()
        // Keywords before dbname are defaults the URL may override; the
        // password comes after it and wins.
        var keywords = ["connect_timeout", "application_name", "dbname"]
        var values = ["5", "depot", url]
        if let password { keywords.append("password"); values.append(password) }
        let opened = Self.withCStrings(keywords) { k in Self.withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let opened, PQstatus(opened) == CONNECTION_OK else {
            let message = opened.map { Self.message(PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(opened)
            throw DatabaseError.unavailable("cannot connect to PostgreSQL: \(message)")
        }
        connection = opened
        // NOTICEs (e.g. what a DROP cascades to) would go to stderr, the
        // journal. JIT compiling costs tens of milliseconds and pays off only
        // for long analytic queries: a listing at 1M rows is estimated
        // expensive enough to trigger it, then takes 20 ms instead of 0.2.
        // Generic plans: every statement is prepared once and run by key, and
        // once a table has statistics PostgreSQL's default kept planning a
        // listing anew on every run (0.2 ms of planning for 0.05 of work).
        PQclear(try perform("""
            SET lock_timeout = \(lockTimeoutMilliseconds); SET client_min_messages = warning; SET jit = off;
            SET plan_cache_mode = force_generic_plan
            """, nil))
    }

    /// Reopens a connection the server or the network dropped, unless a
    /// transaction was running on it: that one has failed as a whole.
    private func ensureConnected() throws {
        if let connection, PQstatus(connection) == CONNECTION_OK { return }
        if inTransaction { throw DatabaseError.unavailable("PostgreSQL connection lost") }
        try connect()
    }

    private var isBroken: Bool { connection.map { PQstatus($0) != CONNECTION_OK } ?? true }

    // MARK: Statements

    func execute(_ sql: String) throws { PQclear(try send(sql, nil)) }

    func query(_ sql: String, _ arguments: [SQLValue], row: (Row) throws -> Void) throws {
        let result = try send(sql, arguments)
        defer { PQclear(result) }
        for index in 0..<PQntuples(result) { try row(Row(source: .postgresql(result, index))) }
    }

    /// `arguments` nil: simple protocol (several statements allowed, no
    /// parameters); otherwise a prepared statement.
    private func send(_ sql: String, _ arguments: [SQLValue]?) throws -> OpaquePointer {
        do {
            try ensureConnected()
            return try perform(sql, arguments)
        } catch DatabaseError.unavailable(_) where !inTransaction && isBroken {
            try connect()
            return try perform(sql, arguments)
        }
    }

    private func perform(_ sql: String, _ arguments: [SQLValue]?) throws -> OpaquePointer {
        let result: OpaquePointer?
        if let arguments {
            let name = try statement(sql)
            result = Self.withParameters(arguments) { values, lengths, formats in
                PQexecPrepared(connection, name, Int32(arguments.count), values, lengths, formats, 0)
            }
        } else {
            result = PQexec(connection, sql)
        }
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard let result, status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let error = self.error(result)
            PQclear(result)
            throw error
        }
        changes = Int(atoi(PQcmdTuples(result)))
        return result
    }

    private func statement(_ sql: String) throws -> String {
        if let name = prepared[sql] { return name }
        let name = "depot_\(prepared.count + 1)"
        let result = PQprepare(connection, name, PostgreSQLPlaceholders.numbered(sql), 0, nil)
        defer { PQclear(result) }
        guard let result, PQresultStatus(result) == PGRES_COMMAND_OK else { throw error(result) }
        prepared[sql] = name
        return name
    }

    /// Retryable conflicts are `busy`; a lost or refusing server, a full
    /// disk or a read-only replica are `unavailable`; the rest are errors.
    private func error(_ result: OpaquePointer?) -> DatabaseError {
        if isBroken { return .unavailable("PostgreSQL connection lost: \(Self.message(PQerrorMessage(connection)))") }
        guard let result else { return .unavailable(Self.message(PQerrorMessage(connection))) }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let message = Self.message(PQresultErrorMessage(result))
        switch state {
        case "40001", "40P01", "55P03", "57014": return .busy
        case "25006", "57P01", "57P02", "57P03": return .unavailable(message)
        case _ where state.hasPrefix("08") || state.hasPrefix("53"): return .unavailable(message)
        default: return .failed("postgresql error \(state): \(message)")
        }
    }

    // MARK: Transactions

    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction("BEGIN", body)
    }

    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        if inTransaction { return try body() }
        return try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    private func transaction<T>(_ begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        inTransaction = true
        defer { inTransaction = false }
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if !isBroken { try? execute("ROLLBACK") }
            throw error
        }
    }

    func withLockTimeout<T>(milliseconds: Int32, _ body: () throws -> T) throws -> T {
        // 0 would mean "wait forever" to PostgreSQL.
        try execute("SET lock_timeout = \(max(milliseconds, 1))")
        defer { try? execute("SET lock_timeout = \(lockTimeoutMilliseconds)") }
        return try body()
    }

    func locking(_ table: String) -> String { " FOR UPDATE OF \(table)" }

    func claiming(_ table: String) -> String { " FOR UPDATE OF \(table) SKIP LOCKED" }

    // MARK: Schema version

    func schemaVersion() throws -> Int {
        let exists = try first("SELECT CASE WHEN to_regclass('depot_schema') IS NULL THEN 0 ELSE 1 END", []) { $0.int(0) } ?? 0
        guard exists == 1 else { return 0 }
        return Int(try first("SELECT version FROM depot_schema", []) { $0.int(0) } ?? 0)
    }

    func setSchemaVersion(_ version: Int) throws {
        try execute("""
            CREATE TABLE IF NOT EXISTS depot_schema (version INTEGER NOT NULL);
            DELETE FROM depot_schema;
            INSERT INTO depot_schema (version) VALUES (\(version));
            """)
    }

    func lockForMigration() throws {
        try execute("SELECT pg_advisory_xact_lock(\(PostgreSQLAdvisoryLock.migration.rawValue))")
    }

    /// Takes a session-wide advisory lock without waiting; false when
    /// another session (another node) holds it. Released by `unlock` or when
    /// this connection ends.
    func tryLock(_ lock: PostgreSQLAdvisoryLock) throws -> Bool {
        try first("SELECT CASE WHEN pg_try_advisory_lock(\(lock.rawValue)) THEN 1 ELSE 0 END", []) { $0.int(0) } == 1
    }

    func unlock(_ lock: PostgreSQLAdvisoryLock) throws {
        try execute("SELECT pg_advisory_unlock(\(lock.rawValue))")
    }

    // MARK: C plumbing

    private static func message(_ p: UnsafePointer<CChar>?) -> String {
        (p.map { String(cString: $0) } ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) } + [nil])
    }

    /// Integers and text in text format; blobs in binary format (bytea).
    private static func withParameters<R>(_ arguments: [SQLValue],
                                          _ body: ([UnsafePointer<CChar>?], [Int32], [Int32]) -> R) -> R {
        var values: [UnsafePointer<CChar>?] = [], lengths: [Int32] = [], formats: [Int32] = []
        var owned: [UnsafeMutableRawPointer] = []
        defer { owned.forEach { free($0) } }
        for argument in arguments {
            switch argument {
            case .null:
                values.append(nil); lengths.append(0); formats.append(0)
            case .int(let v):
                let p = strdup(String(v))!
                owned.append(p); values.append(UnsafePointer(p)); lengths.append(0); formats.append(0)
            case .text(let s):
                let p = strdup(s)!
                owned.append(p); values.append(UnsafePointer(p)); lengths.append(0); formats.append(0)
            case .blob(let bytes):
                let p = malloc(max(bytes.count, 1))!
                bytes.withUnsafeBytes { if let base = $0.baseAddress { p.copyMemory(from: base, byteCount: bytes.count) } }
                owned.append(p)
                values.append(UnsafePointer(p.assumingMemoryBound(to: CChar.self)))
                lengths.append(Int32(bytes.count)); formats.append(1)
            }
        }
        return body(values, lengths, formats)
    }
}
