import ArgumentParser
import DepotCrypto
import DepotEncoding
import DepotHTTP
import DepotMetadata
import DepotService
import Foundation

/// Maintenance over the full configuration; refuses to create a database that is not there.
func openMaintenance(_ global: GlobalOptions) throws -> (Maintenance, DepotConfiguration) {
    let config = try loadFullConfiguration(global)
    try requireExisting(config.database)
    return (try Maintenance(config: config), config)
}

// MARK: gc

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Clean up after failed or interrupted uploads and deleted files.",
        discussion: """
            One pass, safe while the service runs (the depot-gc timer runs it hourly):
              1. reservations that expired, or whose worker process is gone, are
                 released (their quota is given back), their objects queued for
                 deletion;
              2. files past their expires_at are deleted (records, quota, shares and
                 download links in one transaction per 1000; up to 10000 a pass);
              3. queued deletes (failed uploads, deleted and expired files, released
                 reservations) are carried out at the store; failures stay queued;
              4. multipart uploads no reservation knows, older than the grace
                 period, are aborted;
              5. objects under organizations/ that no file record or reservation
                 claims, older than the grace period, are deleted;
              6. download links past their expiry are forgotten.
            On PostgreSQL, nodes sharing the database take turns (an advisory lock): a pass that finds another node's pass running does nothing and says so.
            The grace period is [uploads] orphan_grace_seconds (default 3600). A file with a record and an upload in flight (its reservation held by a live worker) are never touched. Exit status 1 when a delete failed (it is retried on the next pass).
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "List what would be done without changing anything.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let (maintenance, config) = try openMaintenance(global)
        let report = try maintenance.collectGarbage(now: Date(), dryRun: dryRun)
        if report.skipped {
            if json {
                printJSON(["dry_run": .bool(dryRun), "skipped": .bool(true), "reason": .string("another node is running the clean-up")])
            } else {
                print("skipped: another node is running the clean-up (one runs at a time)")
            }
            return
        }
        if json {
            printJSON([
                "dry_run": .bool(dryRun),
                "orphan_grace_seconds": .int(config.orphanGraceSeconds),
                "expired_uploads": .array(report.expiredUploads.map {
                    ["id": .string($0.id), "organization_id": .string($0.organizationID), "user_id": .string($0.userID),
                     "offset": .int($0.offset), "length": .int($0.length), "completed": .bool($0.fileID != nil),
                     "expires_at": .string(rfc3339($0.expiresAt))]
                }),
                "reclaimed_reservations": .array(report.reclaimedReservations.map {
                    ["id": .string($0.id), "organization_id": .string($0.organizationID), "user_id": .string($0.userID),
                     "object_key": .string($0.objectKey), "bytes": .int($0.bytes), "owner_pid": .int(Int64($0.ownerPID)),
                     "created_at": .string(rfc3339($0.createdAt)), "expires_at": .string(rfc3339($0.expiresAt))]
                }),
                "expired_files": .array(report.expiredFiles.map {
                    ["object_key": .string($0.objectKey), "organization_id": .string($0.organizationID), "user_id": .string($0.userID),
                     "bytes": .int($0.size), "expires_at": .string(rfc3339($0.expiresAt ?? 0))]
                }),
                "deleted_objects": .array(report.deletedObjects.map { .string($0) }),
                "aborted_uploads": .array(report.abortedUploads.map { ["key": .string($0.key), "upload_id": .string($0.uploadID)] }),
                "orphan_objects": .array(report.orphanObjects.map { .string($0) }),
                "failed_deletes": .array(report.failedDeletes.map { .string($0) }),
                "expired_download_links": .int(Int64(report.expiredDownloadLinks)),
                "expired_upload_links": .int(Int64(report.expiredUploadLinks)),
                "expired_console_logins": .int(Int64(report.expiredConsoleLogins)),
                "pruned_events": .int(Int64(report.prunedEvents)),
            ])
        } else {
            let would = dryRun ? "would be " : ""
            print("\(dryRun ? "dry run: nothing changed\n" : "")resumable uploads \(would)expired: \(report.expiredUploads.count)")
            for u in report.expiredUploads { print("  \(u.id) (\(u.offset) of \(u.length) bytes, expired \(rfc3339(u.expiresAt)))") }
            print("reservations \(would)released: \(report.reclaimedReservations.count)")
            for r in report.reclaimedReservations { print("  \(r.objectKey) (\(r.bytes) bytes, worker \(r.ownerPID), since \(rfc3339(r.createdAt)))") }
            print("expired files \(would)deleted: \(report.expiredFiles.count)")
            for f in report.expiredFiles { print("  \(f.objectKey) (\(f.size) bytes, expired \(rfc3339(f.expiresAt ?? 0)))") }
            print("queued deletes \(would)done: \(report.deletedObjects.count)")
            for k in report.deletedObjects { print("  \(k)") }
            print("multipart uploads \(would)aborted: \(report.abortedUploads.count)")
            for u in report.abortedUploads { print("  \(u.key) (upload \(u.uploadID))") }
            print("orphan objects \(would)deleted: \(report.orphanObjects.count) (grace \(config.orphanGraceSeconds)s)")
            for k in report.orphanObjects { print("  \(k)") }
            print("expired download links \(would)forgotten: \(report.expiredDownloadLinks)")
            print("expired upload links \(would)forgotten: \(report.expiredUploadLinks)")
            print("expired console logins \(would)forgotten: \(report.expiredConsoleLogins)")
            if !report.failedDeletes.isEmpty {
                print("deletes that failed (retried next pass): \(report.failedDeletes.count)")
                for k in report.failedDeletes { print("  \(k)") }
            }
        }
        if !report.failedDeletes.isEmpty { throw ProblemsFound() }
    }
}

// MARK: fsck

struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Compare the file records with the store: missing objects, size mismatches, orphans.",
        discussion: """
            Lists every object under organizations/ and every file record, and reports:
              missing objects  a record whose object is not in the store (the file
                               is lost: restore the object or delete the record)
              size mismatches  the stored object's size differs from the record
              orphan objects   an object no record or in-flight upload claims
            With --repair it fixes what is safe to fix: it deletes orphan objects older than the grace period ([uploads] orphan_grace_seconds) and rebuilds every organization's usage counters. Records are never dropped.

            Exit status 0 when consistent (or when --repair fixed everything found), 1 when problems were found (without --repair) or remain (with it).
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Delete orphans past the grace period and rebuild the usage counters.") var repair = false
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let (maintenance, config) = try openMaintenance(global)
        let started = Date()
        let report = try maintenance.check(repair: repair, now: started)
        let graceLimit = started.addingTimeInterval(-TimeInterval(config.orphanGraceSeconds))
        let deleted = repair ? report.orphanObjects.filter { $0.isOlder(than: graceLimit) } : []
        let kept = repair ? report.orphanObjects.filter { !$0.isOlder(than: graceLimit) } : report.orphanObjects
        let remaining = report.missingObjects.count + report.sizeMismatches.count + kept.count
        if json {
            printJSON([
                "clean": .bool(report.isClean), "repair": .bool(repair),
                "records_checked": .int(Int64(report.recordsChecked)), "objects_checked": .int(Int64(report.objectsChecked)),
                "missing_objects": .array(report.missingObjects.map { .string($0) }),
                "size_mismatches": .array(report.sizeMismatches.map { ["key": .string($0.key), "recorded": .int($0.recorded), "stored": .int($0.stored)] }),
                "orphan_objects": .array(report.orphanObjects.map {
                    ["key": .string($0.key), "size": .int($0.size), "last_modified": .optional($0.lastModified.map { rfc3339(Int64($0.timeIntervalSince1970)) })]
                }),
                "deleted_orphans": .array(deleted.map { .string($0.key) }),
                "counters_rebuilt": .bool(repair),
                "problems_remaining": .int(Int64(remaining)),
            ])
        } else {
            print("checked \(report.recordsChecked) records and \(report.objectsChecked) store objects")
            print("missing objects: \(report.missingObjects.count)")
            for k in report.missingObjects { print("  \(k)") }
            print("size mismatches: \(report.sizeMismatches.count)")
            for m in report.sizeMismatches { print("  \(m.key): recorded \(m.recorded), stored \(m.stored)") }
            print("orphan objects: \(report.orphanObjects.count)")
            for o in report.orphanObjects {
                let action = !repair ? "" : (o.isOlder(than: graceLimit) ? "  deleted" : "  kept (undated, or younger than the \(config.orphanGraceSeconds)s grace period)")
                print("  \(o.key) (\(o.size) bytes, \(o.lastModified.map { rfc3339(Int64($0.timeIntervalSince1970)) } ?? "undated"))\(action)")
            }
            if repair { print("usage counters rebuilt for every organization") }
            if report.isClean {
                print("consistent")
            } else if repair {
                print(remaining == 0 ? "repaired" : "\(remaining) problem\(remaining == 1 ? "" : "s") left that --repair does not fix")
            } else {
                print("problems found; `depotctl fsck --repair` fixes orphans and counters")
            }
        }
        if remaining > 0 { throw ProblemsFound() }
    }
}

// MARK: backup

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the database while the service runs.",
        discussion: """
            Uses SQLite's online backup API: the copy is one consistent snapshot holding every upload committed before the backup started, taken without stopping the workers. The copy is written next to DEST, checked with PRAGMA integrity_check, made a standalone single file (rollback journal), and only then renamed to DEST. DEST may be an existing directory: the copy is then named depot-YYYYMMDDTHHMMSSZ.sqlite3 inside it.

            The backup holds metadata only. The file bytes are in the object store (back it up with its own tools) and can only be decrypted with the master key file: keep a copy of that file, every line of it, safe and apart from the database backups.

            RESTORE (paths as in the default configuration)
              1. systemctl stop depot
              2. cd /var/lib/depot && mv depot.sqlite3 depot.sqlite3.broken
                 rm -f depot.sqlite3-wal depot.sqlite3-shm
              3. install -o depot -g depot -m 0640 BACKUP depot.sqlite3
              4. depotctl migrate    (a backup from an older release)
              5. systemctl start depot
              6. depotctl fsck       (see below)
            Uploads made after the backup are store objects without a record: fsck reports them as orphans, and gc deletes them after the grace period (or fsck --repair). Files deleted after the backup show up as missing objects.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Backup file to write, or an existing directory to write a dated file into.") var destination: String
    @Flag(help: "Replace DEST if it exists.") var force = false
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let settings = try Settings.load(global)
        let metadata = try settings.openDatabase(requireCurrentSchema: false)
        var dest = destination
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dest, isDirectory: &isDirectory), isDirectory.boolValue {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            let suffix = if case .postgresql = try settings.databaseLocation() { "pgdump" } else { "sqlite3" }
            dest = (dest as NSString).appendingPathComponent("depot-\(formatter.string(from: Date())).\(suffix)")
        }
        let absolute = dest.hasPrefix("/") ? dest : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(dest)
        if fileExists(absolute) && !force {
            throw CtlFailure.failed("\(dest) exists; refusing to overwrite it (use --force, or another name)")
        }
        if case .sqlite(let path) = try settings.databaseLocation() {
            guard (absolute as NSString).standardizingPath != (path as NSString).standardizingPath else {
                throw CtlFailure.failed("DEST is the live database")
            }
        }
        let directory = (absolute as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CtlFailure.failed("directory \(directory) does not exist")
        }
        let report = try metadata.backup(to: absolute)
        let isSQLite = if case .sqlite = try settings.databaseLocation() { true } else { false }
        let (size, files, version, elapsed) = (report.bytes, report.fileRecords, report.schemaVersion, report.seconds)
        if json {
            printJSON(["path": .string(absolute), "bytes": .int(size), "files": .int(files), "schema_version": .int(Int64(version)),
                       "integrity_check": isSQLite ? "ok" : "not applicable", "seconds": .double(elapsed)])
        } else {
            let check = isSQLite ? ", integrity_check ok" : " (pg_dump custom format: restore with pg_restore)"
            print("backup written to \(absolute): \(size) bytes, \(files) file records, schema \(version)\(check) (\(String(format: "%.2f", elapsed))s)")
        }
    }
}
