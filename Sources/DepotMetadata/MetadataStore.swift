import DepotDomain
import Foundation

/// Every SQL statement Depot runs. Writes are short BEGIN IMMEDIATE
/// transactions; counters change in the same transaction as the rows they count.
public final class MetadataStore {
    public let db: SQLiteConnection

    public static var schemaVersion: Int { Migrations.all.count }

    private let busyTimeoutMilliseconds: Int32

    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws {
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    /// Runs `body` with another busy timeout, then restores the configured
    /// one. 0: fail at once with `.busy` while another connection holds the
    /// write lock (for work that can simply be retried later).
    public func withBusyTimeout<T>(_ milliseconds: Int32, _ body: () throws -> T) throws -> T {
        try db.execute("PRAGMA busy_timeout = \(milliseconds)")
        defer { try? db.execute("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)") }
        return try body()
    }

    // MARK: Schema

    public func currentVersion() throws -> Int {
        Int(try db.first("PRAGMA user_version") { $0.int(0) } ?? 0)
    }

    /// Applies pending migrations; refuses a database newer than this binary.
    @discardableResult
    public func migrate() throws -> (from: Int, to: Int) {
        try db.writeTransaction {
            let version = try currentVersion()
            guard version <= Migrations.all.count else {
                throw DatabaseError.schemaTooNew(found: version, supported: Migrations.all.count)
            }
            for index in version..<Migrations.all.count {
                try db.execute(Migrations.all[index])
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
            return (version, Migrations.all.count)
        }
    }

    /// Checks the schema without changing it (workers never migrate).
    public func requireCurrentSchema() throws {
        let version = try currentVersion()
        if version > Migrations.all.count { throw DatabaseError.schemaTooNew(found: version, supported: Migrations.all.count) }
        if version < Migrations.all.count { throw DatabaseError.unavailable("database schema \(version) needs migrating to \(Migrations.all.count) (run depotctl migrate)") }
    }

    // MARK: Plans and accounts

    /// Inserts plans that do not exist yet; existing rows are the admin's and stay.
    public func seedPlans(_ plans: [Plan]) throws {
        try db.writeTransaction {
            for p in plans {
                try db.run("INSERT OR IGNORE INTO plans (name, quota_bytes, max_file_size_bytes, max_files, allowed_categories) VALUES (?, ?, ?, ?, ?)",
                           [.text(p.name), .int(p.quotaBytes), .int(p.maxFileSizeBytes), .int(p.maxFiles),
                            .text(p.allowedCategories.map(\.rawValue).joined(separator: ","))])
            }
        }
    }

    public func upsertPlan(_ p: Plan) throws {
        try db.writeTransaction {
            try db.run("""
                INSERT INTO plans (name, quota_bytes, max_file_size_bytes, max_files, allowed_categories) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET quota_bytes = excluded.quota_bytes, max_file_size_bytes = excluded.max_file_size_bytes,
                max_files = excluded.max_files, allowed_categories = excluded.allowed_categories
                """, [.text(p.name), .int(p.quotaBytes), .int(p.maxFileSizeBytes), .int(p.maxFiles),
                      .text(p.allowedCategories.map(\.rawValue).joined(separator: ","))])
        }
    }

    public func plans() throws -> [Plan] {
        try db.all("SELECT name, quota_bytes, max_file_size_bytes, max_files, allowed_categories FROM plans ORDER BY name", [], Self.plan)
    }

    public func plan(named name: String) throws -> Plan? {
        try db.first("SELECT name, quota_bytes, max_file_size_bytes, max_files, allowed_categories FROM plans WHERE name = ?", [.text(name)], Self.plan)
    }

    private static func plan(_ r: Row) -> Plan {
        Plan(name: r.text(0), quotaBytes: r.int(1), maxFileSizeBytes: r.int(2), maxFiles: r.int(3),
             allowedCategories: r.text(4).split(separator: ",").compactMap { FileCategory(rawValue: String($0)) })
    }

    /// Creates the organization and user on first sight. Returns quickly when
    /// both exist (one indexed read, no write lock).
    public func ensureAccount(organizationID: String, userID: String, accountType: AccountKind?,
                              individualPlan: String, organizationPlan: String, now: Int64) throws {
        let exists = try db.first("SELECT 1 FROM users WHERE organization_id = ? AND id = ?", [.text(organizationID), .text(userID)]) { _ in true } ?? false
        if exists { return }
        try db.writeTransaction {
            let kind = accountType ?? .organization
            try db.run("INSERT OR IGNORE INTO organizations (id, account_type, plan, created_at) VALUES (?, ?, ?, ?)",
                       [.text(organizationID), .text(kind.rawValue), .text(kind == .individual ? individualPlan : organizationPlan), .int(now)])
            try db.run("INSERT OR IGNORE INTO users (organization_id, id, created_at) VALUES (?, ?, ?)",
                       [.text(organizationID), .text(userID), .int(now)])
        }
    }

    public func account(organizationID: String) throws -> Account? {
        try db.first("""
            SELECT o.id, o.account_type, p.name, p.quota_bytes, p.max_file_size_bytes, p.max_files, p.allowed_categories,
                   o.used_bytes, o.reserved_bytes, o.file_count, o.reserved_files
            FROM organizations o JOIN plans p ON p.name = o.plan WHERE o.id = ?
            """, [.text(organizationID)]) { r in
            Account(organizationID: r.text(0), accountType: AccountKind(rawValue: r.text(1)) ?? .organization,
                    plan: Plan(name: r.text(2), quotaBytes: r.int(3), maxFileSizeBytes: r.int(4), maxFiles: r.int(5),
                               allowedCategories: r.text(6).split(separator: ",").compactMap { FileCategory(rawValue: String($0)) }),
                    quota: QuotaState(usedBytes: r.int(7), reservedBytes: r.int(8), fileCount: r.int(9), reservedFiles: r.int(10)))
        }
    }

    public func organizations() throws -> [Account] {
        let ids = try db.all("SELECT id FROM organizations ORDER BY created_at, id") { $0.text(0) }
        return try ids.compactMap { try account(organizationID: $0) }
    }

    public func setPlan(organizationID: String, plan: String) throws -> Bool {
        try db.writeTransaction {
            try db.run("UPDATE organizations SET plan = ? WHERE id = ?", [.text(plan), .text(organizationID)])
            return db.changes == 1
        }
    }

    public func users(organizationID: String) throws -> [String] {
        try db.all("SELECT id FROM users WHERE organization_id = ? ORDER BY id", [.text(organizationID)]) { $0.text(0) }
    }

    // MARK: Reservations

    public struct Reservation: Equatable {
        public var id: String
        public var organizationID: String
        public var userID: String
        public var bytes: Int64
        public var objectKey: String
        public var uploadID: String?
        public var ownerPID: Int32
        public var ownerStart: String
        public var createdAt: Int64
        public var expiresAt: Int64
    }

    /// Reserves room for one file atomically against used + reserved bytes and
    /// files. Two racing uploads serialize on the write lock, so both can
    /// never take the last free bytes.
    public func reserve(organizationID: String, userID: String, bytes: Int64, objectKey: String,
                        ownerPID: Int32, ownerStart: String, now: Int64, ttl: Int64) throws -> Result<String, QuotaRefusal> {
        try db.writeTransaction {
            guard let account = try account(organizationID: organizationID) else { throw DatabaseError.failed(code: 0, message: "unknown organization") }
            if let refusal = QuotaPolicy.check(size: bytes, plan: account.plan, state: account.quota) {
                return .failure(refusal)
            }
            let id = UUIDs.random()
            try db.run("""
                INSERT INTO reservations (id, organization_id, user_id, bytes, object_key, owner_pid, owner_start, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(id), .text(organizationID), .text(userID), .int(bytes), .text(objectKey),
                      .int(Int64(ownerPID)), .text(ownerStart), .int(now), .int(now + ttl)])
            try db.run("UPDATE organizations SET reserved_bytes = reserved_bytes + ?, reserved_files = reserved_files + 1 WHERE id = ?",
                       [.int(bytes), .text(organizationID)])
            return .success(id)
        }
    }

    /// Records the store's multipart upload id so a clean-up can abort it.
    public func attachUpload(reservationID: String, uploadID: String) throws {
        try db.writeTransaction {
            try db.run("UPDATE reservations SET upload_id = ? WHERE id = ?", [.text(uploadID), .text(reservationID)])
        }
    }

    /// Replaces the reservation by the file record at its real size. Returns
    /// false when the reservation is gone (reclaimed by a clean-up): the caller
    /// must then treat the upload as failed.
    public func commitUpload(reservationID: String, file: StoredFile, workflowName: String?) throws -> Bool {
        try db.writeTransaction {
            guard let reservation = try reservation(id: reservationID) else { return false }
            try db.run("DELETE FROM reservations WHERE id = ?", [.text(reservationID)])
            try db.run("""
                UPDATE organizations SET reserved_bytes = reserved_bytes - ?, reserved_files = reserved_files - 1,
                    used_bytes = used_bytes + ?, file_count = file_count + 1 WHERE id = ?
                """, [.int(reservation.bytes), .int(file.size), .text(file.organizationID)])
            try db.run("""
                INSERT INTO files (id, organization_id, user_id, object_key, object_name, original_filename, size, content_type,
                    category, sha256, etag, key_id, uploaded_at, bucket, workflow_id, run_id, direction)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(file.id), .text(file.organizationID), .text(file.userID), .text(file.objectKey), .text(file.objectName),
                      .text(file.originalFilename), .int(file.size), .text(file.contentType), .text(file.category.rawValue),
                      .text(file.sha256), .text(file.etag), .text(file.keyID), .int(file.uploadedAt), .text(file.bucket),
                      .optional(file.workflowID), .optional(file.runID), .optional(file.direction?.rawValue)])
            try addToCounters(file, sign: 1)
            if let workflowID = file.workflowID {
                try db.run("""
                    INSERT INTO workflows (organization_id, id, name, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (organization_id, id) DO UPDATE SET
                        name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE workflows.name END, updated_at = excluded.updated_at
                    """, [.text(file.organizationID), .text(workflowID), .text(workflowName ?? ""), .int(file.uploadedAt)])
            }
            return true
        }
    }

    /// Gives the reserved room back and queues the object for deletion at
    /// the store (an interrupted transfer may have left part of it there).
    public func releaseReservation(id: String, now: Int64, reason: String) throws {
        try db.writeTransaction {
            guard let r = try reservation(id: id) else { return }
            try dropReservation(r, now: now, reason: reason)
        }
    }

    private func dropReservation(_ r: Reservation, now: Int64, reason: String) throws {
        try db.run("DELETE FROM reservations WHERE id = ?", [.text(r.id)])
        try db.run("UPDATE organizations SET reserved_bytes = reserved_bytes - ?, reserved_files = reserved_files - 1 WHERE id = ?",
                   [.int(r.bytes), .text(r.organizationID)])
        try db.run("INSERT OR REPLACE INTO pending_deletes (object_key, upload_id, reason, created_at) VALUES (?, ?, ?, ?)",
                   [.text(r.objectKey), .optional(r.uploadID), .text(reason), .int(now)])
    }

    public func reservation(id: String) throws -> Reservation? {
        try db.first("SELECT id, organization_id, user_id, bytes, object_key, upload_id, owner_pid, owner_start, created_at, expires_at FROM reservations WHERE id = ?",
                     [.text(id)], Self.reservation)
    }

    public func reservations() throws -> [Reservation] {
        try db.all("SELECT id, organization_id, user_id, bytes, object_key, upload_id, owner_pid, owner_start, created_at, expires_at FROM reservations ORDER BY created_at",
                   [], Self.reservation)
    }

    private static func reservation(_ r: Row) -> Reservation {
        Reservation(id: r.text(0), organizationID: r.text(1), userID: r.text(2), bytes: r.int(3), objectKey: r.text(4),
                    uploadID: r.optionalText(5), ownerPID: Int32(truncatingIfNeeded: r.int(6)), ownerStart: r.text(7),
                    createdAt: r.int(8), expiresAt: r.int(9))
    }

    /// Reclaims reservations that expired or whose worker is gone. Returns
    /// the reclaimed ones (their objects are now pending deletes).
    public func reclaimReservations(now: Int64, ownerIsAlive: (Int32, String) -> Bool) throws -> [Reservation] {
        let candidates = try reservations().filter { $0.expiresAt < now || !ownerIsAlive($0.ownerPID, $0.ownerStart) }
        var reclaimed: [Reservation] = []
        for c in candidates {
            try db.writeTransaction {
                // Re-read inside the lock: the upload may have committed meanwhile.
                guard let r = try reservation(id: c.id) else { return }
                try dropReservation(r, now: now, reason: "reclaimed reservation")
                reclaimed.append(r)
            }
        }
        return reclaimed
    }

    // MARK: Files

    static let fileColumns = "id, organization_id, user_id, object_key, object_name, original_filename, size, content_type, category, sha256, etag, key_id, uploaded_at, bucket, workflow_id, run_id, direction"

    private static func file(_ r: Row) -> StoredFile {
        StoredFile(id: r.text(0), organizationID: r.text(1), userID: r.text(2), objectKey: r.text(3), objectName: r.text(4),
                   originalFilename: r.text(5), size: r.int(6), contentType: r.text(7),
                   category: FileCategory(rawValue: r.text(8)) ?? .general, sha256: r.text(9), etag: r.text(10),
                   keyID: r.text(11), uploadedAt: r.int(12), bucket: r.text(13), workflowID: r.optionalText(14),
                   runID: r.optionalText(15), direction: r.optionalText(16).flatMap { ObjectKeys.Direction(rawValue: $0) })
    }

    public func file(key: String) throws -> StoredFile? {
        try db.first("SELECT \(Self.fileColumns) FROM files WHERE object_key = ?", [.text(key)], Self.file)
    }

    /// Looks a file up by its name within the caller's own files.
    public func file(organizationID: String, userID: String, objectName: String) throws -> StoredFile? {
        try db.first("SELECT \(Self.fileColumns) FROM files WHERE organization_id = ? AND user_id = ? AND object_name = ?",
                     [.text(organizationID), .text(userID), .text(objectName)], Self.file)
    }

    /// One page of the caller's files and the total. Pages past the middle
    /// are read from the other end of the index so the last page costs what
    /// the first does.
    public func listFiles(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                          page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        try db.readTransaction {
            let total = try countFiles(organizationID: organizationID, userID: userID, category: category)
            let offset = Int64(page - 1) * Int64(pageSize)
            guard offset < total else { return ([], total) }
            let column: String
            switch sort {
            case .uploadedAt: column = "uploaded_at"
            case .size: column = "size"
            case .originalFilename: column = "original_filename"
            }
            var filter = "organization_id = ? AND user_id = ?"
            var args: [SQLValue] = [.text(organizationID), .text(userID)]
            if let category { filter += " AND category = ?"; args.append(.text(category.rawValue)) }
            let reverse = offset > total / 2
            let ascending = (order == .asc) != reverse
            let direction = ascending ? "ASC" : "DESC"
            let limit = min(Int64(pageSize), total - offset)
            let effectiveOffset = reverse ? total - offset - limit : offset
            var files = try db.all("SELECT \(Self.fileColumns) FROM files WHERE \(filter) ORDER BY \(column) \(direction), seq \(direction) LIMIT ? OFFSET ?",
                                   args + [.int(limit), .int(effectiveOffset)], Self.file)
            if reverse { files.reverse() }
            return (files, total)
        }
    }

    private func countFiles(organizationID: String, userID: String, category: FileCategory?) throws -> Int64 {
        if let category {
            return try db.first("SELECT COALESCE(SUM(files), 0) FROM usage_counters WHERE organization_id = ? AND user_id = ? AND category = ?",
                                [.text(organizationID), .text(userID), .text(category.rawValue)]) { $0.int(0) } ?? 0
        }
        return try db.first("SELECT COALESCE(SUM(files), 0) FROM usage_counters WHERE organization_id = ? AND user_id = ?",
                            [.text(organizationID), .text(userID)]) { $0.int(0) } ?? 0
    }

    /// Removes the record and frees its quota in one transaction, and queues
    /// the store object for deletion (retried by clean-up if the store fails).
    public func deleteFile(organizationID: String, userID: String, objectName: String, now: Int64) throws -> StoredFile? {
        try db.writeTransaction {
            guard let f = try file(organizationID: organizationID, userID: userID, objectName: objectName) else { return nil }
            try db.run("DELETE FROM files WHERE id = ?", [.text(f.id)])
            try db.run("UPDATE organizations SET used_bytes = used_bytes - ?, file_count = file_count - 1 WHERE id = ?",
                       [.int(f.size), .text(f.organizationID)])
            try addToCounters(f, sign: -1)
            try db.run("INSERT OR REPLACE INTO pending_deletes (object_key, upload_id, reason, created_at) VALUES (?, NULL, 'file deleted', ?)",
                       [.text(f.objectKey), .int(now)])
            return f
        }
    }

    private func addToCounters(_ f: StoredFile, sign: Int64) throws {
        try db.run("""
            INSERT INTO usage_counters (organization_id, user_id, category, workflow_id, direction, bytes, files) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (organization_id, user_id, category, workflow_id, direction) DO UPDATE SET
                bytes = bytes + excluded.bytes, files = files + excluded.files
            """, [.text(f.organizationID), .text(f.userID), .text(f.category.rawValue), .text(f.workflowID ?? ""),
                  .text(f.direction?.rawValue ?? ""), .int(sign * f.size), .int(sign)])
    }

    // MARK: Pending deletes

    public struct PendingDelete: Equatable {
        public var objectKey: String
        public var uploadID: String?
        public var reason: String
        public var createdAt: Int64
        public var attempts: Int64

        public init(objectKey: String, uploadID: String?, reason: String, createdAt: Int64, attempts: Int64) {
            self.objectKey = objectKey
            self.uploadID = uploadID
            self.reason = reason
            self.createdAt = createdAt
            self.attempts = attempts
        }
    }

    public func pendingDeletes(limit: Int = 1000) throws -> [PendingDelete] {
        try db.all("SELECT object_key, upload_id, reason, created_at, attempts FROM pending_deletes ORDER BY created_at LIMIT ?", [.int(Int64(limit))]) {
            PendingDelete(objectKey: $0.text(0), uploadID: $0.optionalText(1), reason: $0.text(2), createdAt: $0.int(3), attempts: $0.int(4))
        }
    }

    /// Forgets a pending delete once the store confirmed it, unless a file
    /// record took the key meanwhile (keys are unique, so that cannot happen
    /// in practice; the guard keeps a record from ever losing its object).
    public func completePendingDelete(objectKey: String) throws {
        try db.writeTransaction {
            try db.run("DELETE FROM pending_deletes WHERE object_key = ?", [.text(objectKey)])
        }
    }

    public func notePendingDeleteFailure(objectKey: String) throws {
        try db.writeTransaction {
            try db.run("UPDATE pending_deletes SET attempts = attempts + 1 WHERE object_key = ?", [.text(objectKey)])
        }
    }

    /// Whether any record or reservation claims this key (for orphan checks).
    /// One statement, so one snapshot: an upload committing in between (its
    /// reservation becoming a record in one transaction) is seen on one side
    /// or the other, never on neither.
    public func isKeyClaimed(_ key: String) throws -> Bool {
        try db.first("SELECT EXISTS (SELECT 1 FROM files WHERE object_key = ?1) OR EXISTS (SELECT 1 FROM reservations WHERE object_key = ?1)",
                     [.text(key)]) { $0.int(0) != 0 } ?? false
    }

    public func allFileKeys(organizationID: String? = nil) throws -> [(key: String, size: Int64)] {
        if let organizationID {
            return try db.all("SELECT object_key, size FROM files WHERE organization_id = ?", [.text(organizationID)]) { ($0.text(0), $0.int(1)) }
        }
        return try db.all("SELECT object_key, size FROM files", []) { ($0.text(0), $0.int(1)) }
    }

    // MARK: Usage

    public func usage(organizationID: String, userID: String) throws -> UsageReport? {
        try db.readTransaction {
            guard let account = try account(organizationID: organizationID) else { return nil }
            var byCategory: [FileCategory: CategoryUsage] = [:]
            for c in FileCategory.allCases { byCategory[c] = CategoryUsage(bytes: 0, files: 0) }
            var userBytes: Int64 = 0, userFiles: Int64 = 0
            try db.query("SELECT user_id, category, SUM(bytes), SUM(files) FROM usage_counters WHERE organization_id = ? GROUP BY user_id, category",
                         [.text(organizationID)]) { r in
                if let c = FileCategory(rawValue: r.text(1)) {
                    byCategory[c]!.bytes += r.int(2)
                    byCategory[c]!.files += r.int(3)
                }
                if r.text(0) == userID {
                    userBytes += r.int(2)
                    userFiles += r.int(3)
                }
            }
            return UsageReport(usedBytes: account.quota.usedBytes, reservedBytes: account.quota.reservedBytes,
                               fileCount: account.quota.fileCount, quotaBytes: account.plan.quotaBytes,
                               userUsedBytes: userBytes, userFileCount: userFiles, byCategory: byCategory)
        }
    }

    /// Workflow figures from the counters, never from a scan of files.
    public func storageUsage(organizationID: String, createdBy: String?) throws -> StorageUsageReport {
        try db.readTransaction {
            var total: Int64 = 0, input: Int64 = 0, output: Int64 = 0, count: Int64 = 0
            var perWorkflow: [String: (bytes: Int64, files: Int64)] = [:]
            var sql = "SELECT workflow_id, direction, SUM(bytes), SUM(files) FROM usage_counters WHERE organization_id = ?"
            var args: [SQLValue] = [.text(organizationID)]
            if let createdBy { sql += " AND user_id = ?"; args.append(.text(createdBy)) }
            sql += " GROUP BY workflow_id, direction"
            try db.query(sql, args) { r in
                let bytes = r.int(2), files = r.int(3)
                total += bytes
                count += files
                switch r.text(1) {
                case "input": input += bytes
                case "output": output += bytes
                default: break
                }
                let wf = r.text(0)
                if !wf.isEmpty {
                    let prior = perWorkflow[wf] ?? (0, 0)
                    perWorkflow[wf] = (prior.bytes + bytes, prior.files + files)
                }
            }
            var names: [String: String] = [:]
            try db.query("SELECT id, name FROM workflows WHERE organization_id = ?", [.text(organizationID)]) { names[$0.text(0)] = $0.text(1) }
            let breakdown = perWorkflow.filter { $0.value.files > 0 }
                .map { WorkflowUsage(workflowID: $0.key, workflowName: names[$0.key] ?? "", bytes: $0.value.bytes, fileCount: $0.value.files) }
                .sorted { ($0.bytes, $1.workflowID) > ($1.bytes, $0.workflowID) }
            return StorageUsageReport(totalBytes: total, inputBytes: input, outputBytes: output, fileCount: count, breakdown: breakdown)
        }
    }

    /// Rebuilds counters and organization totals from the file records.
    /// Reserved figures are rebuilt from the live reservations.
    public func recalculate(organizationID: String) throws {
        try db.writeTransaction {
            try db.run("DELETE FROM usage_counters WHERE organization_id = ?", [.text(organizationID)])
            try db.run("""
                INSERT INTO usage_counters (organization_id, user_id, category, workflow_id, direction, bytes, files)
                SELECT organization_id, user_id, category, COALESCE(workflow_id, ''), COALESCE(direction, ''), SUM(size), COUNT(*)
                FROM files WHERE organization_id = ? GROUP BY user_id, category, COALESCE(workflow_id, ''), COALESCE(direction, '')
                """, [.text(organizationID)])
            try db.run("""
                UPDATE organizations SET
                    used_bytes = (SELECT COALESCE(SUM(size), 0) FROM files WHERE organization_id = ?1),
                    file_count = (SELECT COUNT(*) FROM files WHERE organization_id = ?1),
                    reserved_bytes = (SELECT COALESCE(SUM(bytes), 0) FROM reservations WHERE organization_id = ?1),
                    reserved_files = (SELECT COUNT(*) FROM reservations WHERE organization_id = ?1)
                WHERE id = ?1
                """, [.text(organizationID)])
        }
    }

    /// Remembers when Depot first stored into a bucket.
    public func registerBucket(_ name: String, now: Int64) throws {
        if try db.first("SELECT 1 FROM buckets WHERE name = ?", [.text(name)], { _ in true }) ?? false { return }
        try db.writeTransaction {
            try db.run("INSERT OR IGNORE INTO buckets (name, created_at) VALUES (?, ?)", [.text(name), .int(now)])
        }
    }

    public func buckets() throws -> [(name: String, createdAt: Int64)] {
        try db.all("SELECT name, created_at FROM buckets ORDER BY name") { ($0.text(0), $0.int(1)) }
    }

    public func ping() throws {
        _ = try db.first("SELECT 1") { $0.int(0) }
    }
}
