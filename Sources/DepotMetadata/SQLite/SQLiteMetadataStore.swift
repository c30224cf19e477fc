import Foundation

/// The metadata in one SQLite file in WAL mode, shared by every worker
/// process (each opens its own connection after fork). Writes are short
/// BEGIN IMMEDIATE transactions, so the write lock is held from the start
/// and two workers never deadlock upgrading. The embedded default.
public final class SQLiteMetadataStore: SQLMetadataStore {
    let sqlite: SQLiteConnection

    public static var supportedSchemaVersion: Int { SQLiteMigrations.all.count }

    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws {
        sqlite = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        super.init(db: sqlite, migrations: SQLiteMigrations.all)
    }

    /// `PRAGMA integrity_check`, with its "ok" left out.
    override public func integrityProblems() throws -> [String] {
        try db.all("PRAGMA integrity_check") { $0.text(0) }.filter { $0 != "ok" }
    }

    /// Copies the database with SQLite's online backup API to a temp file
    /// beside `destination` (0600: it holds every account's metadata), checks
    /// the copy through a connection of its own, switches it to a rollback
    /// journal so it is one self-contained file that opens anywhere, then
    /// renames it into place and syncs the directory. The caller decides
    /// whether `destination` may be replaced.
    override public func backup(to destination: String) throws -> BackupReport {
        let temp = BackupFile.temporary(beside: destination, kind: "partial")
        let sidecars = ["", "-wal", "-shm", "-journal"]
        for suffix in sidecars { unlink(temp + suffix) }
        var done = false
        defer { if !done { for suffix in sidecars { unlink(temp + suffix) } } }
        try BackupFile.createPrivate(temp)

        let started = Date()
        try sqlite.backup(to: temp)
        let seconds = Date().timeIntervalSince(started)

        let (problems, version, files) = try {
            let copy = try SQLiteMetadataStore(path: temp)
            let problems = try copy.integrityProblems()
            let version = try copy.schemaVersion()
            let files = try copy.fileRecordCount()
            // Never on the live database: the workers rely on WAL.
            try copy.sqlite.execute("PRAGMA journal_mode=DELETE")
            return (problems, version, files)
        }()
        guard problems.isEmpty else {
            throw DatabaseError.failed("the copy failed PRAGMA integrity_check: \(problems.prefix(5).joined(separator: "; "))")
        }
        for suffix in sidecars.dropFirst() { unlink(destination + suffix) }
        let size = try BackupFile.publish(temp, as: destination)
        done = true
        return BackupReport(schemaVersion: version, fileRecords: files, bytes: size, seconds: seconds)
    }
}
