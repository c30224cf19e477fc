import DepotDomain
import Foundation

/// The metadata in a PostgreSQL database that every node of a deployment
/// shares. Each worker holds one connection of its own (opened after fork).
/// Write transactions run at READ COMMITTED and take the rows whose reading
/// decides the write `FOR UPDATE`: two nodes racing for an organization's
/// last free bytes queue on that organization's row, so both never win.
public final class PostgreSQLMetadataStore: SQLMetadataStore {
    let postgresql: PostgreSQLConnection
    private let url: String
    private let password: String?

    public static var supportedSchemaVersion: Int { PostgreSQLMigrations.all.count }

    /// `url` without a password (refused by the configuration); `password` read apart.
    public init(url: String, password: String?, lockTimeoutMilliseconds: Int32 = 5000) throws {
        self.url = url
        self.password = password
        postgresql = try PostgreSQLConnection(url: url, password: password, lockTimeoutMilliseconds: lockTimeoutMilliseconds)
        super.init(db: postgresql, migrations: PostgreSQLMigrations.all)
    }

    override public func listFiles(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                   page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        try listFilesInOneStatement(organizationID: organizationID, userID: userID, category: category, sort: sort, order: order,
                                    page: page, pageSize: pageSize)
    }

    /// One node at a time: a session advisory lock, released when `body`
    /// returns or when this node's connection dies.
    override public func withMaintenanceLock(_ body: () throws -> Void) throws -> Bool {
        guard try postgresql.tryLock(.maintenance) else { return false }
        defer { try? postgresql.unlock(.maintenance) }
        try body()
        return true
    }

    /// `pg_dump --format=custom` of the whole database into a temp file
    /// beside `destination` (0600), renamed into place when complete. The
    /// password reaches pg_dump through a temporary passfile, never its
    /// command line or environment. Restore with `pg_restore`.
    override public func backup(to destination: String) throws -> BackupReport {
        guard let pgDump = Self.executable("pg_dump") else {
            throw DatabaseError.failed("pg_dump not found (install Debian's postgresql-client)")
        }
        let temp = BackupFile.temporary(beside: destination, kind: "partial")
        let passfile = BackupFile.temporary(beside: destination, kind: "pgpass")
        var done = false
        defer {
            unlink(passfile)
            if !done { unlink(temp) }
        }
        let version = try schemaVersion()
        let files = try fileRecordCount()
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = nil
        if let password {
            // host:port:database:user:password, with : and \ escaped.
            let escaped = password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
            try BackupFile.createPrivate(passfile)
            let fd = open(passfile, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw DatabaseError.unavailable("cannot open \(passfile): \(String(cString: strerror(errno)))") }
            let line = Array("*:*:*:*:\(escaped)\n".utf8)
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == line.count else { throw DatabaseError.unavailable("cannot write \(passfile)") }
            environment["PGPASSFILE"] = passfile
        }
        try BackupFile.createPrivate(temp)
        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pgDump)
        process.arguments = ["--format=custom", "--no-owner", "--no-privileges", "--file=\(temp)", "--dbname=\(url)"]
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DatabaseError.failed("pg_dump failed (\(process.terminationStatus)): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let seconds = Date().timeIntervalSince(started)
        let size = try BackupFile.publish(temp, as: destination)
        done = true
        return BackupReport(schemaVersion: version, fileRecords: files, bytes: size, seconds: seconds)
    }

    private static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin"] {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
