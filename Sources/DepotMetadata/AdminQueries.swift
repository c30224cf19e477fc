import Foundation

/// Read-only queries for the admin tool (`depotctl`): figures the API never
/// needs, kept here so every SQL statement of the project stays in this module.
extension MetadataStore {
    /// Files and bytes protected by one master key id.
    public struct KeyUsage: Equatable {
        public var keyID: String
        public var files: Int64
        public var bytes: Int64
    }

    /// How many files (and bytes) each master key id encrypts.
    public func filesPerKey() throws -> [KeyUsage] {
        try db.all("SELECT key_id, COUNT(*), COALESCE(SUM(size), 0) FROM files GROUP BY key_id ORDER BY key_id") {
            KeyUsage(keyID: $0.text(0), files: $0.int(1), bytes: $0.int(2))
        }
    }

    /// Deployment-wide figures, read in one snapshot.
    public struct AdminStats: Equatable {
        public var files: Int64
        public var bytes: Int64
        public var organizations: Int64
        public var users: Int64
        public var reservations: Int64
        public var reservedBytes: Int64
        /// `created_at` (unix seconds) of the oldest live reservation.
        public var oldestReservationCreatedAt: Int64?
        public var pendingDeletes: Int64
    }

    public func adminStats() throws -> AdminStats {
        try db.readTransaction {
            let (files, bytes) = try db.first("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files") { ($0.int(0), $0.int(1)) } ?? (0, 0)
            let organizations = try db.first("SELECT COUNT(*) FROM organizations") { $0.int(0) } ?? 0
            let users = try db.first("SELECT COUNT(*) FROM users") { $0.int(0) } ?? 0
            let (reservations, reserved, oldest) = try db.first("SELECT COUNT(*), COALESCE(SUM(bytes), 0), MIN(created_at) FROM reservations") {
                ($0.int(0), $0.int(1), $0.optionalInt(2))
            } ?? (0, 0, nil)
            let pending = try db.first("SELECT COUNT(*) FROM pending_deletes") { $0.int(0) } ?? 0
            return AdminStats(files: files, bytes: bytes, organizations: organizations, users: users, reservations: reservations,
                              reservedBytes: reserved, oldestReservationCreatedAt: oldest, pendingDeletes: pending)
        }
    }

    /// One user's files as recorded (not from the counters), by category.
    public struct UserSummary {
        public var createdAt: Int64
        public var files: Int64
        public var bytes: Int64
        public var lastUploadAt: Int64?
        public var byCategory: [(category: String, files: Int64, bytes: Int64)]
    }

    /// nil when the user was never seen in this organization.
    public func userSummary(organizationID: String, userID: String) throws -> UserSummary? {
        try db.readTransaction {
            guard let createdAt = try db.first("SELECT created_at FROM users WHERE organization_id = ? AND id = ?",
                                               [.text(organizationID), .text(userID)], { $0.int(0) }) else { return nil }
            var summary = UserSummary(createdAt: createdAt, files: 0, bytes: 0, lastUploadAt: nil, byCategory: [])
            try db.query("""
                SELECT category, COUNT(*), COALESCE(SUM(size), 0), MAX(uploaded_at) FROM files
                WHERE organization_id = ? AND user_id = ? GROUP BY category ORDER BY category
                """, [.text(organizationID), .text(userID)]) { r in
                summary.files += r.int(1)
                summary.bytes += r.int(2)
                summary.lastUploadAt = max(summary.lastUploadAt ?? 0, r.int(3))
                summary.byCategory.append((r.text(0), r.int(1), r.int(2)))
            }
            return summary
        }
    }

    /// Number of users the organization has.
    public func userCount(organizationID: String) throws -> Int64 {
        try db.first("SELECT COUNT(*) FROM users WHERE organization_id = ?", [.text(organizationID)]) { $0.int(0) } ?? 0
    }

    /// Whether a plan is in use, and by how many organizations.
    public func organizationCount(plan: String) throws -> Int64 {
        try db.first("SELECT COUNT(*) FROM organizations WHERE plan = ?", [.text(plan)]) { $0.int(0) } ?? 0
    }

    /// `PRAGMA integrity_check` of this database: `["ok"]` when sound.
    public func integrityCheck() throws -> [String] {
        try db.all("PRAGMA integrity_check") { $0.text(0) }
    }

    /// Number of file records (used to describe a backup copy).
    public func fileCount() throws -> Int64 {
        try db.first("SELECT COUNT(*) FROM files") { $0.int(0) } ?? 0
    }

    /// Switches a copy (a backup) to a rollback journal so it is one
    /// self-contained file that opens anywhere, even read-only. Never call
    /// this on the live database: the workers rely on WAL.
    public func makeStandalone() throws {
        try db.execute("PRAGMA journal_mode=DELETE")
    }
}
