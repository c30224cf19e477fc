import DepotDomain
import Foundation

/// The metadata statements, written once for every SQL backend. A backend
/// (`SQLiteMetadataStore`, `PostgreSQLMetadataStore`) hands in its connection
/// and its migration list and adds what only it can do (integrity checks,
/// backups).
///
/// Writes are short transactions; counters change in the same transaction
/// as the rows they count. A read that decides a write takes its rows with
/// `db.locking(_:)`: nothing under SQLite (its write transaction already
/// excludes every other writer), `FOR UPDATE` under PostgreSQL, where two
/// nodes may write at once.
public class SQLMetadataStore: MetadataStore {
    let db: SQLDatabase
    private let migrations: [String]
    /// The configured endpoints: each event recorded gets a pending delivery
    /// for those that want it (set by whoever opens the store with the configuration).
    public var eventEndpoints: [EventEndpoint] = []

    public var supportedSchemaVersion: Int { migrations.count }

    init(db: SQLDatabase, migrations: [String]) {
        self.db = db
        self.migrations = migrations
    }

    // MARK: Schema

    public func schemaVersion() throws -> Int { try db.schemaVersion() }

    @discardableResult
    public func migrate() throws -> (from: Int, to: Int) {
        let all = migrations
        return try db.writeTransaction {
            try db.lockForMigration()
            let version = try db.schemaVersion()
            guard version <= all.count else { throw DatabaseError.schemaTooNew(found: version, supported: all.count) }
            for index in version..<all.count {
                try db.execute(all[index])
                try db.setSchemaVersion(index + 1)
            }
            return (version, all.count)
        }
    }

    public func requireCurrentSchema() throws {
        let version = try schemaVersion(), supported = supportedSchemaVersion
        if version > supported { throw DatabaseError.schemaTooNew(found: version, supported: supported) }
        if version < supported {
            throw DatabaseError.unavailable("database schema \(version) needs migrating to \(supported) (run depotctl migrate)")
        }
    }

    public func ping() throws {
        _ = try db.first("SELECT 1") { $0.int(0) }
    }

    /// One page of the caller's files and their total. A backend may answer
    /// it in fewer round trips than the shared read transaction takes.
    public func listFiles(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                          page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        try listFilesInTransaction(organizationID: organizationID, userID: userID, category: category, sort: sort, order: order,
                                   page: page, pageSize: pageSize)
    }

    /// Forgets the rows of `table` (links, logins: any with `expires_at`)
    /// past their expiry; returns how many (a dry run only counts them).
    func purgeExpired(_ table: String, now: Int64, dryRun: Bool) throws -> Int {
        if dryRun {
            return Int(try db.first("SELECT COUNT(*) FROM \(table) WHERE expires_at < ?", [.int(now)]) { $0.int(0) } ?? 0)
        }
        return try db.writeTransaction {
            try db.run("DELETE FROM \(table) WHERE expires_at < ?", [.int(now)])
            return db.changes
        }
    }

    /// The backend's own structural check; empty when it has none.
    public func integrityProblems() throws -> [String] { [] }

    /// One host's processes share the SQLite file; a clean-up racing
    /// another on the same host is safe (every step re-checks under the
    /// write lock), so there is nothing to exclude.
    public func withMaintenanceLock(_ body: () throws -> Void) throws -> Bool {
        try body()
        return true
    }

    /// Overridden by each backend.
    public func backup(to destination: String) throws -> BackupReport {
        throw DatabaseError.failed("this backend has no online backup")
    }

    // MARK: Plans and accounts

    /// Inserts plans that do not exist yet; existing rows are the admin's and stay.
    public func seedPlans(_ plans: [Plan]) throws {
        try db.writeTransaction {
            for p in plans {
                try db.run("INSERT INTO plans (\(Self.planColumns)) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", Self.planValues(p))
            }
        }
    }

    /// A quota changed under organizations counts as their usage changing:
    /// each crossing (or re-arming) of a threshold is noted in the same
    /// transaction, organization by organization in id order.
    public func upsertPlan(_ p: Plan, now: Int64) throws {
        try db.writeTransaction {
            try db.run("""
                INSERT INTO plans (\(Self.planColumns)) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET quota_bytes = excluded.quota_bytes, max_file_size_bytes = excluded.max_file_size_bytes,
                max_files = excluded.max_files, allowed_categories = excluded.allowed_categories, member_quota_bytes = excluded.member_quota_bytes
                """, Self.planValues(p))
            for id in try db.all("SELECT id FROM organizations WHERE plan = ? ORDER BY id", [.text(p.name)], { $0.text(0) }) {
                try noteQuotaThresholds(organizationID: id, now: now)
            }
        }
    }

    public func plans() throws -> [Plan] {
        try db.all("SELECT \(Self.planColumns) FROM plans ORDER BY name", [], Self.plan)
    }

    public func plan(named name: String) throws -> Plan? {
        try db.first("SELECT \(Self.planColumns) FROM plans WHERE name = ?", [.text(name)], Self.plan)
    }

    static let planColumns = "name, quota_bytes, max_file_size_bytes, max_files, allowed_categories, member_quota_bytes"

    private static func planValues(_ p: Plan) -> [SQLValue] {
        [.text(p.name), .int(p.quotaBytes), .int(p.maxFileSizeBytes), .int(p.maxFiles),
         .text(p.allowedCategories.map(\.rawValue).joined(separator: ",")), p.memberQuotaBytes.map { .int($0) } ?? .null]
    }

    /// A plan from `planColumns`, read from column `first` on.
    private static func plan(_ r: Row, from first: Int32) -> Plan {
        let c = first
        return Plan(name: r.text(c), quotaBytes: r.int(c + 1), maxFileSizeBytes: r.int(c + 2), maxFiles: r.int(c + 3),
                    allowedCategories: r.text(c + 4).split(separator: ",").compactMap { FileCategory(rawValue: String($0)) },
                    memberQuotaBytes: r.optionalInt(c + 5))
    }

    private static func plan(_ r: Row) -> Plan { plan(r, from: 0) }

    /// Creates the organization and user on first sight. Returns quickly when
    /// both exist (one indexed read, no write lock).
    public func ensureAccount(organizationID: String, userID: String, accountType: AccountKind?,
                              individualPlan: String, organizationPlan: String, now: Int64) throws {
        let exists = try db.first("SELECT 1 FROM users WHERE organization_id = ? AND id = ?", [.text(organizationID), .text(userID)]) { _ in true } ?? false
        if exists { return }
        try createAccount(organizationID: organizationID, userID: userID, accountType: accountType,
                          individualPlan: individualPlan, organizationPlan: organizationPlan, now: now)
    }

    /// The organization (if new) and the user, as a token first names them.
    private func createAccount(organizationID: String, userID: String, accountType: AccountKind?,
                               individualPlan: String, organizationPlan: String, now: Int64) throws {
        try db.writeTransaction {
            let kind = accountType ?? .organization
            try db.run("INSERT INTO organizations (id, account_type, plan, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       [.text(organizationID), .text(kind.rawValue), .text(kind == .individual ? individualPlan : organizationPlan), .int(now)])
            try db.run("INSERT INTO users (organization_id, id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                       [.text(organizationID), .text(userID), .int(now)])
        }
    }

    /// `ensureAccount`, then the organization's account: one indexed read
    /// when the user exists, where the two calls would make two (two round
    /// trips on PostgreSQL).
    public func ensuredAccount(organizationID: String, userID: String, accountType: AccountKind?,
                               individualPlan: String, organizationPlan: String, now: Int64) throws -> Account? {
        let known = try db.first("""
            SELECT \(Self.accountColumns)
            FROM users u JOIN organizations o ON o.id = u.organization_id JOIN plans p ON p.name = o.plan
            WHERE u.organization_id = ? AND u.id = ?
            """, [.text(organizationID), .text(userID)]) { Self.account($0) }
        if let known { return known }
        try createAccount(organizationID: organizationID, userID: userID, accountType: accountType,
                          individualPlan: individualPlan, organizationPlan: organizationPlan, now: now)
        return try account(organizationID: organizationID)
    }

    public func account(organizationID: String) throws -> Account? {
        try account(organizationID: organizationID, locking: false)
    }

    /// `locking`: inside a write transaction, keeps the organization's row
    /// (not its plan's, which every organization on the plan shares) until commit.
    func account(organizationID: String, locking: Bool) throws -> Account? {
        try db.first("""
            SELECT \(Self.accountColumns)
            FROM organizations o JOIN plans p ON p.name = o.plan WHERE o.id = ?\(locking ? db.locking("o") : "")
            """, [.text(organizationID)]) { Self.account($0) }
    }

    /// What `account(_:)` reads, from `organizations o` and `plans p`.
    private static let accountColumns = """
        o.id, o.account_type, o.used_bytes, o.reserved_bytes, o.file_count, o.reserved_files,
               p.name, p.quota_bytes, p.max_file_size_bytes, p.max_files, p.allowed_categories, p.member_quota_bytes
        """

    private static func account(_ r: Row) -> Account {
        Account(organizationID: r.text(0), accountType: AccountKind(rawValue: r.text(1)) ?? .organization,
                plan: plan(r, from: 6),
                quota: QuotaState(usedBytes: r.int(2), reservedBytes: r.int(3), fileCount: r.int(4), reservedFiles: r.int(5)))
    }

    public func organizations() throws -> [Account] {
        let ids = try db.all("SELECT id FROM organizations ORDER BY created_at, id") { $0.text(0) }
        return try ids.compactMap { try account(organizationID: $0) }
    }

    public func setPlan(organizationID: String, plan: String, now: Int64) throws -> Bool {
        try db.writeTransaction {
            try db.run("UPDATE organizations SET plan = ? WHERE id = ?", [.text(plan), .text(organizationID)])
            guard db.changes == 1 else { return false }
            try noteQuotaThresholds(organizationID: organizationID, now: now)
            return true
        }
    }

    public func users(organizationID: String) throws -> [String] {
        try db.all("SELECT id FROM users WHERE organization_id = ? ORDER BY id", [.text(organizationID)]) { $0.text(0) }
    }

    // MARK: Reservations

    /// Reserves room for one file atomically against used + reserved bytes and
    /// files. Two racing uploads serialize on the organization's row (the
    /// write lock under SQLite), so both can never take the last free bytes.
    public func reserve(organizationID: String, userID: String, bytes: Int64, objectKey: String,
                        ownerPID: Int32, ownerStart: String, now: Int64, ttl: Int64) throws -> Result<String, QuotaRefusal> {
        try db.writeTransaction {
            guard let account = try account(organizationID: organizationID, locking: true) else { throw DatabaseError.failed("unknown organization \(organizationID)") }
            if let refusal = try QuotaPolicy.check(size: bytes, plan: account.plan, state: account.quota)
                ?? memberRefusal(plan: account.plan, organizationID: organizationID, userID: userID, bytes: bytes) {
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

    /// The plan's limit per member, judged under the organization's row lock
    /// the caller holds (so a member's racing uploads queue like any others):
    /// the member's files (from the counters) plus their live reservations.
    func memberRefusal(plan: Plan, organizationID: String, userID: String, bytes: Int64) throws -> QuotaRefusal? {
        guard let limit = plan.memberQuotaBytes else { return nil }
        let held = try db.first("""
            SELECT (SELECT COALESCE(SUM(bytes), 0) FROM usage_counters WHERE organization_id = ?1 AND user_id = ?2)
                 + (SELECT COALESCE(SUM(bytes), 0) FROM reservations WHERE organization_id = ?1 AND user_id = ?2)
            """, [.text(organizationID), .text(userID)]) { $0.int(0) } ?? 0
        return bytes > limit - held ? .memberQuotaExceeded(available: max(0, limit - held)) : nil
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
        try db.writeTransaction { try commitReservation(reservationID, file: file, workflowName: workflowName) }
    }

    /// `commitUpload`'s work, inside the caller's write transaction.
    func commitReservation(_ reservationID: String, file: StoredFile, workflowName: String?) throws -> Bool {
        do {
            guard let reservation = try reservation(id: reservationID, locking: true) else { return false }
            try db.run("DELETE FROM reservations WHERE id = ?", [.text(reservationID)])
            try db.run("""
                UPDATE organizations SET reserved_bytes = reserved_bytes - ?, reserved_files = reserved_files - 1,
                    used_bytes = used_bytes + ?, file_count = file_count + 1 WHERE id = ?
                """, [.int(reservation.bytes), .int(file.size), .text(file.organizationID)])
            try db.run("""
                INSERT INTO files (id, organization_id, user_id, object_key, object_name, original_filename, size, content_type,
                    category, sha256, etag, key_id, uploaded_at, bucket, workflow_id, run_id, direction, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(file.id), .text(file.organizationID), .text(file.userID), .text(file.objectKey), .text(file.objectName),
                      .text(file.originalFilename), .int(file.size), .text(file.contentType), .text(file.category.rawValue),
                      .text(file.sha256), .text(file.etag), .text(file.keyID), .int(file.uploadedAt), .text(file.bucket),
                      .optional(file.workflowID), .optional(file.runID), .optional(file.direction?.rawValue),
                      file.expiresAt.map { .int($0) } ?? .null])
            try addToCounters(file, sign: 1)
            if let workflowID = file.workflowID {
                try db.run("""
                    INSERT INTO workflows (organization_id, id, name, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (organization_id, id) DO UPDATE SET
                        name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE workflows.name END, updated_at = excluded.updated_at
                    """, [.text(file.organizationID), .text(workflowID), .text(workflowName ?? ""), .int(file.uploadedAt)])
            }
            try recordEvent(.fileCreated, organizationID: file.organizationID, now: file.uploadedAt, data: DepotEvent.fileData(file))
            try noteQuotaThresholds(organizationID: file.organizationID, now: file.uploadedAt)
            return true
        }
    }

    /// Gives the reserved room back and queues the object for deletion at
    /// the store (an interrupted transfer may have left part of it there).
    public func releaseReservation(id: String, now: Int64, reason: String, waitForLock: Bool) throws {
        let release = {
            try self.db.writeTransaction {
                guard let r = try self.reservation(id: id, locking: true) else { return }
                try self.dropReservation(r, now: now, reason: reason)
            }
        }
        if waitForLock { try release() } else { try db.withLockTimeout(milliseconds: 0, release) }
    }

    func dropReservation(_ r: Reservation, now: Int64, reason: String) throws {
        try db.run("DELETE FROM reservations WHERE id = ?", [.text(r.id)])
        try db.run("UPDATE organizations SET reserved_bytes = reserved_bytes - ?, reserved_files = reserved_files - 1 WHERE id = ?",
                   [.int(r.bytes), .text(r.organizationID)])
        try queuePendingDelete(r.objectKey, uploadID: r.uploadID, reason: reason, now: now)
    }

    /// Queues a store key (and its multipart upload) for deletion, inside the caller's write transaction.
    func queuePendingDelete(_ key: String, uploadID: String? = nil, reason: String, now: Int64) throws {
        try db.run("""
            INSERT INTO pending_deletes (object_key, upload_id, reason, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (object_key) DO UPDATE SET upload_id = excluded.upload_id, reason = excluded.reason,
                created_at = excluded.created_at, attempts = 0
            """, [.text(key), .optional(uploadID), .text(reason), .int(now)])
    }

    public func reservation(id: String) throws -> Reservation? { try reservation(id: id, locking: false) }

    func reservation(id: String, locking: Bool) throws -> Reservation? {
        try db.first("SELECT id, organization_id, user_id, bytes, object_key, upload_id, owner_pid, owner_start, created_at, expires_at FROM reservations WHERE id = ?\(locking ? db.locking("reservations") : "")",
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
                guard let r = try reservation(id: c.id, locking: true) else { return }
                try dropReservation(r, now: now, reason: "reclaimed reservation")
                reclaimed.append(r)
            }
        }
        return reclaimed
    }
}
