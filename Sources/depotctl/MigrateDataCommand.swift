import ArgumentParser
import DepotMetadata
import DepotService
import Foundation

struct MigrateDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-data",
        abstract: "Copy an installation's metadata into another database (SQLite to PostgreSQL, or back).",
        discussion: """
            Copies every account, plan, file record, reservation, counter, upload and link from --from into --to, in one snapshot of the source and one transaction on the target, then counts both: rows per table and the usage totals (used and reserved bytes and files, the bytes of the records, the counters). It fails, changing nothing, unless both agree. The target is migrated to this release's schema first and must hold no account or file yet; the source must be at this release's schema (`depotctl migrate`).

            Each side is sqlite:PATH or a postgresql:// URL without a password; a PostgreSQL password comes from --from-password-file / --to-password-file, else from the configuration's [database] password_file.

            MOVING TO POSTGRESQL (docs/OPERATIONS.md, "More than one host")
              1. systemctl stop depot depot-gc.timer
              2. depotctl migrate-data --from sqlite:/var/lib/depot/depot.sqlite3 \\
                   --to postgresql://depot@db.internal/depot --to-password-file /etc/depot/secrets/database.password
              3. in /etc/depot/depot.conf, [database]: url = postgresql://depot@db.internal/depot
                 and password_file = credential:database-password (or a path)
              4. systemctl start depot depot-gc.timer
            The file bytes stay where they are: the store does not change.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "The database to copy from: sqlite:PATH or postgresql://USER@HOST[:PORT]/DB.") var from: String
    @Option(help: "The database to copy into (new or empty).") var to: String
    @Option(help: "A file holding the source's PostgreSQL password.") var fromPasswordFile: String?
    @Option(help: "A file holding the target's PostgreSQL password.") var toPasswordFile: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let settings = try Settings.load(global)
        let source = try location(from, passwordFile: fromPasswordFile, settings: settings)
        let target = try location(to, passwordFile: toPasswordFile, settings: settings)
        guard source != target else { throw CtlFailure.usage("--from and --to name the same database") }
        let (before, after) = try MetadataStores.copy(from: source, to: target, busyTimeoutMilliseconds: try settings.busyTimeout())
        let tables = before.rows.keys.sorted()
        let differences = tables.filter { before.rows[$0] != after.rows[$0] }
        let totals: [(String, Int64, Int64)] = [
            ("used_bytes", before.usedBytes, after.usedBytes), ("file_count", before.fileCount, after.fileCount),
            ("reserved_bytes", before.reservedBytes, after.reservedBytes), ("reserved_files", before.reservedFiles, after.reservedFiles),
            ("file_bytes", before.fileBytes, after.fileBytes), ("counter_bytes", before.counterBytes, after.counterBytes),
            ("counter_files", before.counterFiles, after.counterFiles),
        ]
        let verified = before == after
        if json {
            printJSON([
                "from": .string(source.description), "to": .string(target.description), "verified": .bool(verified),
                "rows": .object(tables.map { ($0, .object([("source", .int(before.rows[$0] ?? 0)), ("target", .int(after.rows[$0] ?? 0))])) }),
                "totals": .object(totals.map { ($0.0, .object([("source", .int($0.1)), ("target", .int($0.2))])) }),
            ])
        } else {
            print("copied \(source) → \(target)")
            for t in tables { print("  \(t): \(before.rows[t] ?? 0) → \(after.rows[t] ?? 0)\(differences.contains(t) ? "  MISMATCH" : "")") }
            for (name, a, b) in totals { print("  \(name): \(a) → \(b)\(a == b ? "" : "  MISMATCH")") }
            print(verified ? "verified: every count and total agrees" : "NOT verified: the counts differ")
        }
        if !verified { throw ProblemsFound() }
    }

    private func location(_ text: String, passwordFile: String?, settings: Settings) throws -> DatabaseLocation {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw CtlFailure.usage("\(text): sqlite: needs a path") }
            let absolute = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
            return .sqlite(path: absolute)
        }
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") else {
            throw CtlFailure.usage("\(text): expected sqlite:PATH or a postgresql:// URL")
        }
        // The same rules as the configuration's [database] url.
        var lines = "[database]\nurl = \(text)\n"
        if let passwordFile {
            lines += "password_file = \(passwordFile)\n"
        } else if let configured = try settings.secretPath(section: "database", key: "password_file") {
            lines += "password_file = \(configured)\n"
        }
        do {
            return try ConfigFile(text: lines).databaseLocation(configPath: FileManager.default.currentDirectoryPath + "/depotctl")
        } catch let e as ConfigurationError {
            throw CtlFailure.usage(e.message)
        }
    }
}
