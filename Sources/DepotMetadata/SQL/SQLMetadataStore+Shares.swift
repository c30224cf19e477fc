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
    /// file's row, so a file deleted meanwhile is never shared. The row keeps
    /// a copy of the file's sort fields (a record never changes once
    /// written), so a grantee's listing pages through an index of shares.
    public func createShare(_ share: Share) throws -> ShareCreation {
        try db.writeTransaction {
            guard let file = try db.first("""
                SELECT organization_id, user_id, uploaded_at, size, original_filename, category FROM files WHERE object_key = ?\(db.locking("files"))
                """, [.text(share.objectKey)], { r -> (org: String, owner: String, category: String, fields: [SQLValue]) in
                    (r.text(0), r.text(1), r.text(5), [.int(r.int(2)), .int(r.int(3)), .text(r.text(4)), .text(r.text(5))])
                }), file.org == share.organizationID, file.owner == share.ownerID else { return .noFile }
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
            try db.run("""
                INSERT INTO shares (\(Self.shareColumns), uploaded_at, size, original_filename, category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(share.id), .text(share.organizationID), .text(share.objectKey), .text(share.ownerID), .text(grantee),
                      .text(share.createdBy), .int(share.createdAt)] + file.fields)
            var counts = ShareCountChanges()
            try countShare(organizationID: share.organizationID, objectKey: share.objectKey, ownerID: share.ownerID, granteeID: grantee,
                           category: file.category, sign: 1, into: &counts)
            try apply(counts)
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

    /// Holds the file's row first, as granting does, so the counters see
    /// the file's other grants as they stay.
    public func deleteShare(id: String) throws -> Bool {
        try db.writeTransaction {
            guard let key = try db.first("SELECT object_key FROM shares WHERE id = ?", [.text(id)], { $0.text(0) }) else { return false }
            _ = try db.first("SELECT 1 FROM files WHERE object_key = ?\(db.locking("files"))", [.text(key)]) { _ in true }
            // Gone meanwhile (another revocation, or the file's delete): nothing to count.
            guard let s = try db.first("DELETE FROM shares WHERE id = ? RETURNING organization_id, owner_id, grantee_id, category", [.text(id)],
                                       { r in [r.text(0), r.text(1), r.text(2), r.text(3)] }) else { return false }
            var counts = ShareCountChanges()
            try countShare(organizationID: s[0], objectKey: key, ownerID: s[1], granteeID: s[2], category: s[3], sign: -1, into: &counts)
            try apply(counts)
            return true
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

    /// One page of the files others in the organization shared with `userID`:
    /// the grants to the user and to the whole organization are two ranges
    /// of one index in the order asked, each read no further than the page's
    /// end (from the other end for pages past the middle, as `pageOfFiles`
    /// does), merged (a file granted both ways once), then joined to their
    /// records. The total comes from `share_counts`, never a count of
    /// shares or files.
    public func listSharedFiles(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        let column = Self.sortColumn(sort)
        var filter = "organization_id = ?1 AND owner_id <> ?2"
        var counted: [SQLValue] = [.text(organizationID), .text(userID)]
        if let category { filter += " AND category = ?3"; counted.append(.text(category.rawValue)) }
        return try db.readTransaction {
            // The user's row and the organization's row of `share_counts`
            // (its invariant gives the formula), one per category.
            let categoryTest = category == nil ? "" : " AND category = ?3"
            let total = try db.first("""
                SELECT COALESCE(SUM(grants - own_org_grants - double_grants), 0) FROM share_counts
                WHERE organization_id = ?1 AND user_id IN (?2, '')\(categoryTest)
                """, counted) { $0.int(0) } ?? 0
            let offset = Int64(page - 1) * Int64(pageSize)
            guard offset < total else { return ([], total) }
            let reverse = offset > total / 2
            let direction = (order == .asc) != reverse ? "ASC" : "DESC"
            let limit = min(Int64(pageSize), total - offset)
            let skip = reverse ? total - offset - limit : offset
            let n = counted.count
            func grants(_ grantee: String, _ alias: String) -> String {
                "SELECT * FROM (SELECT object_key AS share_key, \(column) AS sort_value FROM shares WHERE \(filter) AND grantee_id = \(grantee) "
                    + "ORDER BY \(column) \(direction), object_key \(direction) LIMIT ?\(n + 1)) AS \(alias)"
            }
            var files = try db.all("""
                SELECT \(Self.fileColumns) FROM (\(grants("?2", "direct")) UNION \(grants("''", "everyone"))) AS page
                JOIN files ON files.object_key = page.share_key
                ORDER BY page.sort_value \(direction), page.share_key \(direction) LIMIT ?\(n + 2) OFFSET ?\(n + 3)
                """, counted + [.int(skip + limit), .int(limit), .int(skip)], Self.file)
            if reverse { files.reverse() }
            return (files, total)
        }
    }

    /// One page of the organization's files shared with the whole
    /// organization (its admins' view): one range of the grantee `''` in a
    /// shares index, in the order asked, read no further than the page's end
    /// (from the other end for pages past the middle, as `pageOfFiles`
    /// does), then joined to the records. The total is the organization's
    /// rows of `share_counts`.
    public func listOrganizationSharedFiles(organizationID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                            page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        let column = Self.sortColumn(sort)
        var filter = "organization_id = ? AND grantee_id = ''"
        var args: [SQLValue] = [.text(organizationID)]
        if let category { filter += " AND category = ?"; args.append(.text(category.rawValue)) }
        return try db.readTransaction {
            let total = try db.first("""
                SELECT COALESCE(SUM(grants), 0) FROM share_counts WHERE organization_id = ? AND user_id = ''\(category == nil ? "" : " AND category = ?")
                """, args) { $0.int(0) } ?? 0
            let offset = Int64(page - 1) * Int64(pageSize)
            guard offset < total else { return ([], total) }
            let reverse = offset > total / 2
            let direction = (order == .asc) != reverse ? "ASC" : "DESC"
            let limit = min(Int64(pageSize), total - offset)
            let skip = reverse ? total - offset - limit : offset
            var files = try db.all("""
                SELECT \(Self.fileColumns) FROM (
                    SELECT object_key AS share_key, \(column) AS sort_value FROM shares WHERE \(filter)
                    ORDER BY \(column) \(direction), object_key \(direction) LIMIT ? OFFSET ?) AS page
                JOIN files ON files.object_key = page.share_key
                ORDER BY page.sort_value \(direction), page.share_key \(direction)
                """, args + [.int(limit), .int(skip)], Self.file)
            if reverse { files.reverse() }
            return (files, total)
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
