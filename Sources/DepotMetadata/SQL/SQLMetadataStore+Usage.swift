import DepotDomain
import Foundation

extension SQLMetadataStore {
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

    /// Workflow figures from the counters, never from a scan of files. The
    /// breakdown is the largest `breakdownLimit` workflows, cut in SQL (one
    /// more row read tells whether there were more).
    public func storageUsage(organizationID: String, createdBy: String?) throws -> StorageUsageReport {
        var filter = "c.organization_id = ?"
        var args: [SQLValue] = [.text(organizationID)]
        if let createdBy {
            filter += " AND c.user_id = ?"
            args.append(.text(createdBy))
        }
        return try db.readTransaction {
            var total: Int64 = 0, input: Int64 = 0, output: Int64 = 0, count: Int64 = 0
            try db.query("SELECT direction, SUM(bytes), SUM(files) FROM usage_counters c WHERE \(filter) GROUP BY direction", args) { r in
                total += r.int(1)
                count += r.int(2)
                switch r.text(0) {
                case "input": input += r.int(1)
                case "output": output += r.int(1)
                default: break
                }
            }
            let limit = StorageUsageReport.breakdownLimit
            var breakdown = try db.all("""
                SELECT c.workflow_id, COALESCE(MAX(w.name), ''), SUM(c.bytes), SUM(c.files)
                FROM usage_counters c LEFT JOIN workflows w ON w.organization_id = c.organization_id AND w.id = c.workflow_id
                WHERE \(filter) AND c.workflow_id <> ''
                GROUP BY c.workflow_id HAVING SUM(c.files) > 0
                ORDER BY SUM(c.bytes) DESC, c.workflow_id LIMIT ?
                """, args + [.int(Int64(limit + 1))]) {
                WorkflowUsage(workflowID: $0.text(0), workflowName: $0.text(1), bytes: $0.int(2), fileCount: $0.int(3))
            }
            let truncated = breakdown.count > limit
            if truncated { breakdown.removeLast(breakdown.count - limit) }
            return StorageUsageReport(totalBytes: total, inputBytes: input, outputBytes: output, fileCount: count,
                                      breakdown: breakdown, breakdownTruncated: truncated)
        }
    }

    /// Usage per member from the counters and the live reservations, never
    /// from a scan of files: one range of each table's organization index
    /// (`usage_counters`' key, `reservations_by_user`), grouped by user and
    /// cut in SQL at `MemberUsageReport.limit` (one more row read tells
    /// whether there were more). Counter rows a member emptied by deleting
    /// do not make them a member who holds something.
    public func memberUsage(organizationID: String) throws -> MemberUsageReport {
        let limit = MemberUsageReport.limit
        var members = try db.all("""
            SELECT user_id, SUM(used_bytes), SUM(files), SUM(reserved_bytes) FROM (
                SELECT user_id, bytes AS used_bytes, files, 0 AS reserved_bytes, 0 AS reservations
                FROM usage_counters WHERE organization_id = ?1
                UNION ALL
                SELECT user_id, 0, 0, bytes, 1 FROM reservations WHERE organization_id = ?1
            ) AS held
            GROUP BY user_id HAVING SUM(files) > 0 OR SUM(reservations) > 0
            ORDER BY SUM(used_bytes) DESC, user_id LIMIT ?2
            """, [.text(organizationID), .int(Int64(limit + 1))]) {
            MemberUsage(userID: $0.text(0), usedBytes: $0.int(1), fileCount: $0.int(2), reservedBytes: $0.int(3))
        }
        let truncated = members.count > limit
        if truncated { members.removeLast(members.count - limit) }
        return MemberUsageReport(members: members, truncated: truncated)
    }

    /// Rebuilds counters and organization totals from the file records, and
    /// the share counters from the shares. Reserved figures are rebuilt from
    /// the live reservations.
    public func recalculate(organizationID: String) throws {
        try db.writeTransaction {
            // Commits and deletes change the organization's row first: holding
            // it keeps them out while the counters are rebuilt.
            _ = try db.first("SELECT id FROM organizations WHERE id = ?\(db.locking("organizations"))", [.text(organizationID)]) { $0.text(0) }
            try db.run("DELETE FROM usage_counters WHERE organization_id = ?", [.text(organizationID)])
            try db.run("""
                INSERT INTO usage_counters (organization_id, user_id, category, workflow_id, direction, bytes, files)
                SELECT organization_id, user_id, category, COALESCE(workflow_id, ''), COALESCE(direction, ''), SUM(size), COUNT(*)
                FROM files WHERE organization_id = ? GROUP BY organization_id, user_id, category, COALESCE(workflow_id, ''), COALESCE(direction, '')
                """, [.text(organizationID)])
            try db.run("""
                UPDATE organizations SET
                    used_bytes = (SELECT COALESCE(SUM(size), 0) FROM files WHERE organization_id = ?1),
                    file_count = (SELECT COUNT(*) FROM files WHERE organization_id = ?1),
                    reserved_bytes = (SELECT COALESCE(SUM(bytes), 0) FROM reservations WHERE organization_id = ?1),
                    reserved_files = (SELECT COUNT(*) FROM reservations WHERE organization_id = ?1)
                WHERE id = ?1
                """, [.text(organizationID)])
            try recountShares(organizationID: organizationID)
        }
    }

    /// Remembers when Depot first stored into a bucket.
    public func registerBucket(_ name: String, now: Int64) throws {
        if try db.first("SELECT 1 FROM buckets WHERE name = ?", [.text(name)], { _ in true }) ?? false { return }
        try db.writeTransaction {
            try db.run("INSERT INTO buckets (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", [.text(name), .int(now)])
        }
    }

    public func buckets() throws -> [(name: String, createdAt: Int64)] {
        try db.all("SELECT name, created_at FROM buckets ORDER BY name") { ($0.text(0), $0.int(1)) }
    }
}
