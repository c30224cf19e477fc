import DepotDomain

/// `share_counts` keeps the totals of the shared listings out of the shares
/// index (counting a grantee's 10 000 grants read megabytes per request).
/// One row per (organization, user, category):
/// - `grants`: shares to the user; for the user `''`, shares to the whole
///   organization;
/// - `own_org_grants`: organization-wide shares of the user's own files
///   (never in the user's `shared` scope);
/// - `double_grants`: files shared with the user both directly and with
///   the whole organization (listed once).
/// A member's shared total is grants(u) + grants('') − own_org_grants(u) −
/// double_grants(u): a direct grant is never one on the grantee's own file.
///
/// Invariant: every change to `shares` changes these rows in the same
/// transaction, while holding the file's row, so the file's other grants
/// (what decides a double grant) stay put until it commits. Bulk removals
/// (offboarding) rebuild the organization's rows from `shares` instead.
extension SQLMetadataStore {
    /// Counter changes collected during a transaction, applied once per row
    /// in a fixed order (two transactions never take the rows crosswise).
    struct ShareCountChanges {
        private(set) var rows: [[String]: [Int64]] = [:]

        mutating func add(organizationID: String, userID: String, category: String, grants: Int64 = 0, ownOrgGrants: Int64 = 0,
                          doubleGrants: Int64 = 0) {
            let prior = rows[[organizationID, userID, category], default: [0, 0, 0]]
            rows[[organizationID, userID, category]] = [prior[0] + grants, prior[1] + ownOrgGrants, prior[2] + doubleGrants]
        }
    }

    /// What granting (`sign` 1) or revoking (−1) one share changes, read
    /// against the file's other shares as they stand in this transaction.
    func countShare(organizationID: String, objectKey: String, ownerID: String, granteeID: String, category: String, sign: Int64,
                    into changes: inout ShareCountChanges) throws {
        if granteeID.isEmpty {
            changes.add(organizationID: organizationID, userID: "", category: category, grants: sign)
            changes.add(organizationID: organizationID, userID: ownerID, category: category, ownOrgGrants: sign)
            for grantee in try db.all("SELECT grantee_id FROM shares WHERE object_key = ? AND grantee_id <> ''", [.text(objectKey)], { $0.text(0) }) {
                changes.add(organizationID: organizationID, userID: grantee, category: category, doubleGrants: sign)
            }
        } else {
            changes.add(organizationID: organizationID, userID: granteeID, category: category, grants: sign)
            let alsoToEveryone = try db.first("SELECT 1 FROM shares WHERE object_key = ? AND grantee_id = ''", [.text(objectKey)]) { _ in true }
            if alsoToEveryone ?? false {
                changes.add(organizationID: organizationID, userID: granteeID, category: category, doubleGrants: sign)
            }
        }
    }

    /// Deletes every share of the file at `objectKey`, one at a time so each
    /// revocation is counted against the grants still there.
    func removeShares(objectKey: String, into changes: inout ShareCountChanges) throws {
        let shares = try db.all("SELECT id, organization_id, owner_id, grantee_id, category FROM shares WHERE object_key = ? ORDER BY id",
                                [.text(objectKey)]) { r in [r.text(0), r.text(1), r.text(2), r.text(3), r.text(4)] }
        for s in shares {
            try db.run("DELETE FROM shares WHERE id = ?", [.text(s[0])])
            try countShare(organizationID: s[1], objectKey: objectKey, ownerID: s[2], granteeID: s[3], category: s[4], sign: -1, into: &changes)
        }
    }

    func apply(_ changes: ShareCountChanges) throws {
        for (key, delta) in changes.rows.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) where delta != [0, 0, 0] {
            try db.run("""
                INSERT INTO share_counts (organization_id, user_id, category, grants, own_org_grants, double_grants) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (organization_id, user_id, category) DO UPDATE SET grants = share_counts.grants + excluded.grants,
                    own_org_grants = share_counts.own_org_grants + excluded.own_org_grants,
                    double_grants = share_counts.double_grants + excluded.double_grants
                """, key.map { SQLValue.text($0) } + delta.map { SQLValue.int($0) })
        }
    }

    /// The organization's rows counted afresh from `shares` (the migration
    /// that created the table counts the same way; migrations stay frozen).
    func recountShares(organizationID: String) throws {
        try db.run("DELETE FROM share_counts WHERE organization_id = ?", [.text(organizationID)])
        try db.run("""
            INSERT INTO share_counts (organization_id, user_id, category, grants, own_org_grants, double_grants)
            SELECT organization_id, user_id, category, SUM(grants), SUM(own_org_grants), SUM(double_grants) FROM (
                SELECT organization_id, grantee_id AS user_id, category, 1 AS grants, 0 AS own_org_grants, 0 AS double_grants
                FROM shares WHERE organization_id = ?1
                UNION ALL
                SELECT organization_id, owner_id, category, 0, 1, 0 FROM shares WHERE organization_id = ?1 AND grantee_id = ''
                UNION ALL
                SELECT organization_id, grantee_id, category, 0, 0, 1 FROM shares WHERE organization_id = ?1 AND grantee_id <> ''
                    AND EXISTS (SELECT 1 FROM shares e WHERE e.object_key = shares.object_key AND e.grantee_id = '')
            ) AS counted GROUP BY organization_id, user_id, category
            """, [.text(organizationID)])
    }
}
