import CSQLite
import Foundation

/// One SQLite connection with a statement cache. Not thread-safe: each worker
/// process opens its own after fork.
final class SQLiteConnection: SQLDatabase {
    private var db: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]
    private let busyTimeoutMilliseconds: Int32

    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000, readOnly: Bool = false) throws {
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            db = nil
            throw DatabaseError.unavailable(message)
        }
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(db, 1)
        if !readOnly {
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=NORMAL")
        }
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        for (_, s) in cache { sqlite3_finalize(s) }
        sqlite3_close_v2(db)
    }

    /// Runs SQL without results (may hold several statements).
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        let message = errorMessage.map { String(cString: $0) } ?? ""
        sqlite3_free(errorMessage)
        if rc != SQLITE_OK && rc & 0xff != SQLITE_ROW { throw error(rc, message) }
    }

    /// Runs one statement, calling `row` for each result row.
    public func query(_ sql: String, _ arguments: [SQLValue], row: (Row) throws -> Void) throws {
        let statement = try prepared(sql)
        defer { sqlite3_reset(statement); sqlite3_clear_bindings(statement) }
        for (i, value) in arguments.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, index)
            case .int(let v): sqlite3_bind_int64(statement, index, v)
            case .text(let v): sqlite3_bind_text(statement, index, v, -1, depot_sqlite_transient())
            case .blob(let v): sqlite3_bind_blob(statement, index, v, Int32(v.count), depot_sqlite_transient())
            }
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_ROW {
                try row(Row(source: .sqlite(statement)))
            } else if rc == SQLITE_DONE {
                return
            } else {
                throw error(rc, String(cString: sqlite3_errmsg(db)))
            }
        }
    }

    public var changes: Int { Int(sqlite3_changes(db)) }

    /// A short write transaction taken with BEGIN IMMEDIATE, so the write lock
    /// is held from the start and two workers never deadlock upgrading.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// A read transaction: one consistent snapshot for several queries.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN DEFERRED")
        defer { try? execute("COMMIT") }
        return try body()
    }

    /// BEGIN IMMEDIATE already excludes every other writer.
    func locking(_ table: String) -> String { "" }

    /// One host's deliverer is the only claimer: nothing to skip.
    func claiming(_ table: String) -> String { "" }

    func withLockTimeout<T>(milliseconds: Int32, _ body: () throws -> T) throws -> T {
        try execute("PRAGMA busy_timeout = \(milliseconds)")
        defer { try? execute("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)") }
        return try body()
    }

    func schemaVersion() throws -> Int {
        Int(try first("PRAGMA user_version") { $0.int(0) } ?? 0)
    }

    func setSchemaVersion(_ version: Int) throws {
        try execute("PRAGMA user_version = \(version)")
    }

    /// The migration's BEGIN IMMEDIATE is the lock.
    func lockForMigration() throws {}

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let s = cache[sql] { return s }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, String(cString: sqlite3_errmsg(db))) }
        cache[sql] = statement
        return statement
    }

    private func error(_ rc: Int32, _ message: String) -> DatabaseError {
        switch rc & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: return .busy
        case SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_NOMEM: return .unavailable(message)
        default: return .failed("sqlite error \(rc): \(message)")
        }
    }

    /// Online copy of the whole database through SQLite's backup API.
    public func backup(to path: String) throws {
        var destination: OpaquePointer?
        guard sqlite3_open_v2(path, &destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK else {
            sqlite3_close(destination)
            throw DatabaseError.unavailable("cannot create backup file")
        }
        defer { sqlite3_close(destination) }
        guard let backup = sqlite3_backup_init(destination, "main", db, "main") else {
            throw DatabaseError.failed("sqlite error \(sqlite3_errcode(destination)): \(String(cString: sqlite3_errmsg(destination)))")
        }
        var rc: Int32
        repeat {
            // All pages in one step, under one read snapshot: in WAL mode that
            // never blocks the writers. Copying in slices would restart from
            // the first page whenever another process commits in between, so
            // under steady writes a large database would never finish.
            rc = sqlite3_backup_step(backup, -1)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(20) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let finish = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else { throw error(finish == SQLITE_OK ? rc : finish, "backup failed") }
    }
}
