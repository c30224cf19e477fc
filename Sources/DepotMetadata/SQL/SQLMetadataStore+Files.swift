import DepotDomain
import Foundation

extension SQLMetadataStore {
    // MARK: Files

    /// The last column says whether the file has a share. It is a scalar
    /// subquery, not EXISTS: PostgreSQL turns an EXISTS over a large listing
    /// into a hash of the whole shares table, built before the first row
    /// (a seq scan of every organization's shares per page); a scalar
    /// subquery is one index probe per row returned.
    static let fileColumns = "id, organization_id, user_id, object_key, object_name, original_filename, size, content_type, category, sha256, etag, key_id, uploaded_at, bucket, workflow_id, run_id, direction, expires_at, CASE WHEN (SELECT 1 FROM shares WHERE shares.object_key = files.object_key LIMIT 1) IS NULL THEN 0 ELSE 1 END"

    /// A file record from `fileColumns`, read from column `first` on.
    static func file(_ r: Row, from first: Int32) -> StoredFile {
        let c = first
        return StoredFile(id: r.text(c), organizationID: r.text(c + 1), userID: r.text(c + 2), objectKey: r.text(c + 3),
                          objectName: r.text(c + 4), originalFilename: r.text(c + 5), size: r.int(c + 6), contentType: r.text(c + 7),
                          category: FileCategory(rawValue: r.text(c + 8)) ?? .general, sha256: r.text(c + 9), etag: r.text(c + 10),
                          keyID: r.text(c + 11), uploadedAt: r.int(c + 12), bucket: r.text(c + 13), workflowID: r.optionalText(c + 14),
                          runID: r.optionalText(c + 15), direction: r.optionalText(c + 16).flatMap { ObjectKeys.Direction(rawValue: $0) },
                          expiresAt: r.optionalInt(c + 17), shared: r.int(c + 18) != 0)
    }

    static func file(_ r: Row) -> StoredFile { file(r, from: 0) }

    /// The column a listing sorts by (ties: `seq`, the order records arrived).
    static func sortColumn(_ sort: FileSort) -> String {
        switch sort {
        case .uploadedAt: return "uploaded_at"
        case .size: return "size"
        case .originalFilename: return "original_filename"
        }
    }

    public func file(key: String) throws -> StoredFile? {
        try db.first("SELECT \(Self.fileColumns) FROM files WHERE object_key = ?", [.text(key)], Self.file)
    }

    /// Looks a file up by its name within the caller's own files. A
    /// workflow file's name (its original name) is no handle: several runs
    /// may hold a `report.csv`, and its key is the capability.
    public func file(organizationID: String, userID: String, objectName: String) throws -> StoredFile? {
        try file(organizationID: organizationID, userID: userID, objectName: objectName, locking: false)
    }

    func file(organizationID: String, userID: String, objectName: String, locking: Bool) throws -> StoredFile? {
        try db.first("""
            SELECT \(Self.fileColumns) FROM files
            WHERE organization_id = ? AND user_id = ? AND object_name = ? AND workflow_id IS NULL\(locking ? db.locking("files") : "")
            """, [.text(organizationID), .text(userID), .text(objectName)], Self.file)
    }

    /// One page of the caller's files and the total, in one read transaction.
    func listFilesInTransaction(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        try db.readTransaction {
            let total = try countFiles(organizationID: organizationID, userID: userID, category: category)
            var filter = "organization_id = ? AND user_id = ?"
            var args: [SQLValue] = [.text(organizationID), .text(userID)]
            if let category { filter += " AND category = ?"; args.append(.text(category.rawValue)) }
            return (try pageOfFiles(filter: filter, args: args, total: total, sort: sort, order: order, page: page, pageSize: pageSize), total)
        }
    }

    /// One page of the `total` files `filter` selects. Pages past the middle
    /// are read from the other end of the index so the last page costs what
    /// the first does.
    func pageOfFiles(filter: String, args: [SQLValue], total: Int64, sort: FileSort, order: ListOrder,
                     page: Int, pageSize: Int) throws -> [StoredFile] {
        let offset = Int64(page - 1) * Int64(pageSize)
        guard offset < total else { return [] }
        let column = Self.sortColumn(sort)
        let reverse = offset > total / 2
        let ascending = (order == .asc) != reverse
        let direction = ascending ? "ASC" : "DESC"
        let limit = min(Int64(pageSize), total - offset)
        let effectiveOffset = reverse ? total - offset - limit : offset
        var files = try db.all("SELECT \(Self.fileColumns) FROM files WHERE \(filter) ORDER BY \(column) \(direction), seq \(direction) LIMIT ? OFFSET ?",
                               args + [.int(limit), .int(effectiveOffset)], Self.file)
        if reverse { files.reverse() }
        return files
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
            guard let f = try file(organizationID: organizationID, userID: userID, objectName: objectName, locking: true) else { return nil }
            try removeFileRecords([f], reason: .deleted, now: now)
            return f
        }
    }

    /// Removes the files the targets name in one transaction. Rows are
    /// locked in key order, so two deletes of overlapping lists never
    /// deadlock; a key listed twice is removed once.
    public func deleteFiles(organizationID: String, _ targets: [FileTarget], now: Int64) throws -> [StoredFile] {
        let ordered = Set(targets).sorted { ($0.key, $0.ownerID ?? "") < ($1.key, $1.ownerID ?? "") }
        return try db.writeTransaction {
            var found: [StoredFile] = []
            var seen = Set<String>()
            for t in ordered where !seen.contains(t.key) {
                var sql = "SELECT \(Self.fileColumns) FROM files WHERE object_key = ? AND organization_id = ?"
                var args: [SQLValue] = [.text(t.key), .text(organizationID)]
                if let owner = t.ownerID {
                    sql += " AND user_id = ?"
                    args.append(.text(owner))
                }
                if let f = try db.first(sql + db.locking("files"), args, Self.file) {
                    found.append(f)
                    seen.insert(f.objectKey)
                }
            }
            try removeFileRecords(found, reason: .deleted, now: now)
            return found
        }
    }

    /// Removes file records inside the caller's write transaction, with
    /// everything that counts or names them: the organizations' totals
    /// first (the order commits take: organization, then counters), the
    /// usage counters, the shares and download links of their keys; their
    /// objects are queued for deletion at the store, and each removal is
    /// recorded as an event (`file.expired` for expiry, else `file.deleted`).
    func removeFileRecords(_ files: [StoredFile], reason: FileRemoval, now: Int64) throws {
        guard !files.isEmpty else { return }
        var freed: [String: (bytes: Int64, files: Int64)] = [:]
        for f in files {
            let prior = freed[f.organizationID] ?? (0, 0)
            freed[f.organizationID] = (prior.bytes + f.size, prior.files + 1)
        }
        for (org, total) in freed.sorted(by: { $0.key < $1.key }) {
            try db.run("UPDATE organizations SET used_bytes = used_bytes - ?, file_count = file_count - ? WHERE id = ?",
                       [.int(total.bytes), .int(total.files), .text(org)])
        }
        // One counter row per (user, category, workflow, direction), changed once, in a fixed order.
        var counters: [[String]: (bytes: Int64, files: Int64)] = [:]
        for f in files {
            let key = [f.organizationID, f.userID, f.category.rawValue, f.workflowID ?? "", f.direction?.rawValue ?? ""]
            let prior = counters[key] ?? (0, 0)
            counters[key] = (prior.bytes + f.size, prior.files + 1)
        }
        for (key, total) in counters.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            try db.run("""
                UPDATE usage_counters SET bytes = bytes - ?, files = files - ?
                WHERE organization_id = ? AND user_id = ? AND category = ? AND workflow_id = ? AND direction = ?
                """, [.int(total.bytes), .int(total.files)] + key.map { SQLValue.text($0) })
        }
        var shareCounts = ShareCountChanges()
        for f in files {
            try db.run("DELETE FROM files WHERE id = ?", [.text(f.id)])
            try removeShares(objectKey: f.objectKey, into: &shareCounts)
            try db.run("DELETE FROM download_links WHERE object_key = ?", [.text(f.objectKey)])
            try queuePendingDelete(f.objectKey, reason: reason.pendingDeleteReason, now: now)
        }
        try apply(shareCounts)
        try recordRemovalEvents(files, reason: reason, now: now)
        for org in freed.keys.sorted() { try noteQuotaThresholds(organizationID: org, now: now) }
    }

    func addToCounters(_ f: StoredFile, sign: Int64) throws {
        try db.run("""
            INSERT INTO usage_counters (organization_id, user_id, category, workflow_id, direction, bytes, files) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (organization_id, user_id, category, workflow_id, direction) DO UPDATE SET
                bytes = usage_counters.bytes + excluded.bytes, files = usage_counters.files + excluded.files
            """, [.text(f.organizationID), .text(f.userID), .text(f.category.rawValue), .text(f.workflowID ?? ""),
                  .text(f.direction?.rawValue ?? ""), .int(sign * f.size), .int(sign)])
    }

    // MARK: Pending deletes

    public func pendingDeletes(limit: Int) throws -> [PendingDelete] {
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
        try db.first("""
            SELECT CASE WHEN EXISTS (SELECT 1 FROM files WHERE object_key = ?1) OR EXISTS (SELECT 1 FROM reservations WHERE object_key = ?1)
                OR EXISTS (SELECT 1 FROM resumable_uploads WHERE staged_key = ?1) THEN 1 ELSE 0 END
            """,
                     [.text(key)]) { $0.int(0) != 0 } ?? false
    }

    public func allFileKeys(organizationID: String?) throws -> [(key: String, size: Int64)] {
        if let organizationID {
            return try db.all("SELECT object_key, size FROM files WHERE organization_id = ?", [.text(organizationID)]) { ($0.text(0), $0.int(1)) }
        }
        return try db.all("SELECT object_key, size FROM files", []) { ($0.text(0), $0.int(1)) }
    }
}
