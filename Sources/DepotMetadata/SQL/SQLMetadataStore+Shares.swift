import DepotDomain

/// Sharing inside an organization. A share is a row per (file, grantee);
/// the grantee `''` stands for the whole organization, so one unique index
/// keeps a grant from being recorded twice. Shares die with their file (in
/// `deleteFile`'s transaction), so a grantee never reaches a deleted file.
extension SQLMetadataStore {
    static let shareColumns = "id, organization_id, object_key, owner_id, grantee_id, created_by, created_at"

    static func share(_ r: Row) -> Share {
        let grantee = r.text(4)
        return Share(id: r.text(0), organizationID: r.text(1), objectKey: r.text(2), ownerID: r.text(3),
                     granteeUserID: grantee.isEmpty ? nil : grantee, createdBy: r.text(5), createdAt: r.int(6))
    }

    /// Records the grant unless it exists, in one transaction that holds the
    /// file's row, so a file deleted meanwhile is never shared.
    public func createShare(_ share: Share) throws -> ShareCreation {
        try db.writeTransaction {
            guard let file = try db.first("SELECT organization_id, user_id FROM files WHERE object_key = ?\(db.locking("files"))",
                                          [.text(share.objectKey)], { ($0.text(0), $0.text(1)) }),
                  file.0 == share.organizationID, file.1 == share.ownerID else { return .noFile }
            if let grantee = share.granteeUserID {
                let member = try db.first("SELECT 1 FROM users WHERE organization_id = ? AND id = ?",
                                          [.text(share.organizationID), .text(grantee)]) { _ in true } ?? false
                guard member else { return .unknownGrantee }
            }
            let grantee = share.granteeUserID ?? ""
            if let existing = try db.first("SELECT \(Self.shareColumns) FROM shares WHERE object_key = ? AND grantee_id = ?",
                                           [.text(share.objectKey), .text(grantee)], Self.share) {
                return .existing(existing)
            }
            try db.run("INSERT INTO shares (\(Self.shareColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [.text(share.id), .text(share.organizationID), .text(share.objectKey), .text(share.ownerID), .text(grantee),
                        .text(share.createdBy), .int(share.createdAt)])
            return .created(share)
        }
    }

    public func share(id: String) throws -> Share? {
        try db.first("SELECT \(Self.shareColumns) FROM shares WHERE id = ?", [.text(id)], Self.share)
    }

    /// A file's shares, oldest first.
    public func shares(objectKey: String) throws -> [Share] {
        try db.all("SELECT \(Self.shareColumns) FROM shares WHERE object_key = ? ORDER BY created_at, id", [.text(objectKey)], Self.share)
    }

    public func deleteShare(id: String) throws -> Bool {
        try db.writeTransaction {
            try db.run("DELETE FROM shares WHERE id = ?", [.text(id)])
            return db.changes == 1
        }
    }

    /// The file at `key` when it was shared with `userID` (directly or with
    /// their whole organization) by another member of that organization.
    public func fileShared(key: String, organizationID: String, userID: String) throws -> StoredFile? {
        try db.first("""
            SELECT \(Self.fileColumns) FROM files WHERE object_key = ? AND organization_id = ? AND user_id <> ?
                AND EXISTS (SELECT 1 FROM shares WHERE shares.object_key = files.object_key AND shares.grantee_id IN (?, ''))
            """, [.text(key), .text(organizationID), .text(userID), .text(userID)], Self.file)
    }

    /// One page of the files others in the organization shared with `userID`.
    /// Costs what the caller's shares number, not what the organization holds.
    public func listSharedFiles(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        var filter = """
            organization_id = ? AND user_id <> ? AND object_key IN (SELECT object_key FROM shares WHERE organization_id = ? AND grantee_id IN (?, ''))
            """
        var args: [SQLValue] = [.text(organizationID), .text(userID), .text(organizationID), .text(userID)]
        if let category { filter += " AND category = ?"; args.append(.text(category.rawValue)) }
        return try db.readTransaction {
            let total = try db.first("SELECT COUNT(*) FROM files WHERE \(filter)", args) { $0.int(0) } ?? 0
            return (try pageOfFiles(filter: filter, args: args, total: total, sort: sort, order: order, page: page, pageSize: pageSize), total)
        }
    }

    /// One page of every file of the organization (its admins' view); the
    /// total comes from the counters.
    public func listOrganizationFiles(organizationID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                      page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        var filter = "organization_id = ?"
        var args: [SQLValue] = [.text(organizationID)]
        if let category { filter += " AND category = ?"; args.append(.text(category.rawValue)) }
        return try db.readTransaction {
            let total = try db.first("SELECT COALESCE(SUM(files), 0) FROM usage_counters WHERE \(filter)", args) { $0.int(0) } ?? 0
            return (try pageOfFiles(filter: filter, args: args, total: total, sort: sort, order: order, page: page, pageSize: pageSize), total)
        }
    }
}
