/// One connection to a SQL backend, as the shared metadata statements use it.
/// Not thread-safe: each worker process opens its own after fork.
///
/// The statements are written once in the subset both backends speak
/// (`?` or `?N` placeholders, `ON CONFLICT`, `RETURNING`); what differs is
/// behind this protocol: how a write transaction excludes other writers,
/// and how the schema version is kept.
protocol SQLDatabase: AnyObject {
    /// Runs SQL without results (may hold several statements).
    func execute(_ sql: String) throws
    /// Runs one statement, calling `row` for each result row.
    func query(_ sql: String, _ arguments: [SQLValue], row: (Row) throws -> Void) throws
    /// Rows changed by the last statement.
    var changes: Int { get }
    /// A short write transaction. SQLite: BEGIN IMMEDIATE, one writer at a
    /// time. PostgreSQL: READ COMMITTED, where a read that decides a write
    /// must take its rows with `locking(_:)`.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T
    /// One consistent snapshot for several reads.
    func readTransaction<T>(_ body: () throws -> T) throws -> T
    /// Runs `body` with another lock wait; 0 fails at once with `busy`.
    func withLockTimeout<T>(milliseconds: Int32, _ body: () throws -> T) throws -> T
    /// The clause a SELECT inside a write transaction ends with when what it
    /// reads decides what the transaction writes: the rows of `table` (a name
    /// or alias of the FROM clause) stay locked until commit. Empty where the
    /// write transaction already excludes every other writer.
    func locking(_ table: String) -> String
    /// Like `locking(_:)`, for work queues: rows another transaction holds
    /// are passed over instead of waited for, so two nodes claiming work at
    /// once take different rows.
    func claiming(_ table: String) -> String

    /// The schema version of the database as it is (0: empty).
    func schemaVersion() throws -> Int
    /// Records the version inside the migration's transaction.
    func setSchemaVersion(_ version: Int) throws
    /// Taken inside the migration's transaction so two migrating processes
    /// run one after the other.
    func lockForMigration() throws
}

extension SQLDatabase {
    func run(_ sql: String, _ arguments: [SQLValue] = []) throws { try query(sql, arguments) { _ in } }

    func first<T>(_ sql: String, _ arguments: [SQLValue] = [], _ map: (Row) -> T) throws -> T? {
        var result: T?
        try query(sql, arguments) { r in if result == nil { result = map(r) } }
        return result
    }

    func all<T>(_ sql: String, _ arguments: [SQLValue] = [], _ map: (Row) -> T) throws -> [T] {
        var result: [T] = []
        try query(sql, arguments) { result.append(map($0)) }
        return result
    }
}
