import Foundation

/// Read-only figures for the admin tool (`depotctl`) and the online backup:
/// work the API never does, kept here so every SQL statement of the project
/// stays in this module.
extension SQLMetadataStore {
    public func filesPerKey() throws -> [KeyUsage] {
        try db.all("SELECT key_id, COUNT(*), COALESCE(SUM(size), 0) FROM files GROUP BY key_id ORDER BY key_id") {
            KeyUsage(keyID: $0.text(0), files: $0.int(1), bytes: $0.int(2))
        }
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

    public func userCount(organizationID: String) throws -> Int64 {
        try db.first("SELECT COUNT(*) FROM users WHERE organization_id = ?", [.text(organizationID)]) { $0.int(0) } ?? 0
    }

    public func organizationCount(plan: String) throws -> Int64 {
        try db.first("SELECT COUNT(*) FROM organizations WHERE plan = ?", [.text(plan)]) { $0.int(0) } ?? 0
    }

    func fileRecordCount() throws -> Int64 {
        try db.first("SELECT COUNT(*) FROM files") { $0.int(0) } ?? 0
    }
}
