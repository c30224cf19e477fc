/// Moving an installation from one backend to another (`depotctl
/// migrate-data`): every row of every table, in one read snapshot of the
/// source and one transaction on the target, then the two compared.
extension SQLMetadataStore {
    enum ColumnKind { case int, text, blob }

    /// Tables in an order that satisfies their references, with the columns
    /// to copy. `files.seq` is left to the target, which numbers rows in the
    /// order they arrive (ordered by the source's seq, so listings keep their
    /// tie order).
    static let copiedTables: [(name: String, order: String, columns: [(String, ColumnKind)])] = [
        ("plans", "name", [("name", .text), ("quota_bytes", .int), ("max_file_size_bytes", .int), ("max_files", .int),
                           ("allowed_categories", .text), ("member_quota_bytes", .int)]),
        ("organizations", "id", [("id", .text), ("account_type", .text), ("plan", .text), ("used_bytes", .int), ("reserved_bytes", .int),
                                 ("file_count", .int), ("reserved_files", .int), ("created_at", .int)]),
        ("users", "organization_id, id", [("organization_id", .text), ("id", .text), ("created_at", .int)]),
        ("files", "seq", [("id", .text), ("organization_id", .text), ("user_id", .text), ("object_key", .text), ("object_name", .text),
                          ("original_filename", .text), ("size", .int), ("content_type", .text), ("category", .text), ("sha256", .text),
                          ("etag", .text), ("key_id", .text), ("uploaded_at", .int), ("bucket", .text), ("workflow_id", .text),
                          ("run_id", .text), ("direction", .text), ("expires_at", .int)]),
        ("usage_counters", "organization_id, user_id, category, workflow_id, direction",
         [("organization_id", .text), ("user_id", .text), ("category", .text), ("workflow_id", .text), ("direction", .text),
          ("bytes", .int), ("files", .int)]),
        ("workflows", "organization_id, id", [("organization_id", .text), ("id", .text), ("name", .text), ("updated_at", .int)]),
        ("reservations", "id", [("id", .text), ("organization_id", .text), ("user_id", .text), ("bytes", .int), ("object_key", .text),
                                ("upload_id", .text), ("owner_pid", .int), ("owner_start", .text), ("created_at", .int),
                                ("expires_at", .int)]),
        ("buckets", "name", [("name", .text), ("created_at", .int)]),
        ("pending_deletes", "object_key", [("object_key", .text), ("upload_id", .text), ("reason", .text), ("created_at", .int),
                                           ("attempts", .int)]),
        ("resumable_uploads", "id", [("id", .text), ("organization_id", .text), ("user_id", .text), ("reservation_id", .text),
                                     ("object_key", .text), ("object_name", .text), ("original_filename", .text), ("content_type", .text),
                                     ("category", .text), ("workflow_id", .text), ("run_id", .text), ("direction", .text),
                                     ("workflow_name", .text), ("metadata_header", .text), ("length", .int), ("\"offset\"", .int),
                                     ("store_upload_id", .text), ("key_id", .text), ("parts_bytes", .int), ("part_count", .int),
                                     ("staged_key", .text), ("hash_state", .blob), ("head", .blob), ("created_at", .int),
                                     ("expires_at", .int), ("file_id", .text), ("lock_owner", .text), ("lock_until", .int),
                                     ("file_expires_in", .int)]),
        ("resumable_upload_parts", "upload_id, number", [("upload_id", .text), ("number", .int), ("etag", .text), ("size", .int)]),
        ("upload_links", "id", [("id", .text), ("organization_id", .text), ("user_id", .text), ("category", .text), ("max_size", .int),
                                ("secret_hash", .blob), ("created_at", .int), ("expires_at", .int), ("used_at", .int),
                                ("revoked_at", .int)]),
        ("shares", "id", [("id", .text), ("organization_id", .text), ("object_key", .text), ("owner_id", .text), ("grantee_id", .text),
                          ("created_by", .text), ("created_at", .int), ("uploaded_at", .int), ("size", .int),
                          ("original_filename", .text), ("category", .text)]),
        ("share_counts", "organization_id, user_id, category", [("organization_id", .text), ("user_id", .text), ("category", .text),
                                                                ("grants", .int), ("own_org_grants", .int), ("double_grants", .int)]),
        ("download_links", "id", [("id", .text), ("organization_id", .text), ("user_id", .text), ("object_key", .text), ("type", .text),
                                  ("signature_digest", .text), ("created_at", .int), ("expires_at", .int)]),
        ("events", "seq", [("id", .text), ("type", .text), ("organization_id", .text), ("created_at", .int), ("payload", .text)]),
        ("event_deliveries", "event_id, endpoint", [("event_id", .text), ("endpoint", .text), ("organization_id", .text), ("status", .text),
                                                    ("attempts", .int), ("failures", .int), ("next_attempt_at", .int), ("pending_since", .int),
                                                    ("last_error", .text), ("delivered_at", .int)]),
        ("quota_thresholds", "organization_id", [("organization_id", .text), ("threshold", .int)]),
        ("console_logins", "id", [("id", .text), ("organization_id", .text), ("user_id", .text), ("role", .text), ("account_type", .text),
                                  ("token_lifetime", .int), ("secret_hash", .blob), ("created_at", .int), ("expires_at", .int),
                                  ("used_at", .int)]),
    ]

    /// Row counts per table and the usage totals, read in one snapshot.
    func census() throws -> MetadataCensus {
        try db.readTransaction {
            var rows: [String: Int64] = [:]
            for table in Self.copiedTables {
                rows[table.name] = try db.first("SELECT COUNT(*) FROM \(table.name)") { $0.int(0) } ?? 0
            }
            let totals = try db.first("""
                SELECT COALESCE(SUM(used_bytes), 0), COALESCE(SUM(file_count), 0), COALESCE(SUM(reserved_bytes), 0),
                       COALESCE(SUM(reserved_files), 0) FROM organizations
                """) { r -> [Int64] in [r.int(0), r.int(1), r.int(2), r.int(3)] } ?? [0, 0, 0, 0]
            let fileBytes = try db.first("SELECT COALESCE(SUM(size), 0) FROM files") { $0.int(0) } ?? 0
            let counted = try db.first("SELECT COALESCE(SUM(bytes), 0), COALESCE(SUM(files), 0) FROM usage_counters") { r -> [Int64] in
                [r.int(0), r.int(1)]
            } ?? [0, 0]
            return MetadataCensus(rows: rows, usedBytes: totals[0], fileCount: totals[1], reservedBytes: totals[2],
                                  reservedFiles: totals[3], fileBytes: fileBytes, counterBytes: counted[0], counterFiles: counted[1])
        }
    }

    /// Copies every row into `target`, which must hold no account or file
    /// yet (its plans are replaced by the source's). One transaction on the
    /// target: a failure leaves it as it was.
    func copyEverything(to target: SQLMetadataStore) throws {
        let before = try target.census()
        guard before.rows["organizations"] == 0, before.rows["files"] == 0, before.rows["reservations"] == 0 else {
            throw DatabaseError.failed("the target database already holds accounts or files; copy only into a new one")
        }
        try db.readTransaction {
            try target.db.writeTransaction {
                try target.db.run("DELETE FROM plans")
                for table in Self.copiedTables {
                    let names = table.columns.map(\.0).joined(separator: ", ")
                    let marks = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
                    let insert = "INSERT INTO \(table.name) (\(names)) VALUES (\(marks))"
                    var failure: Error?
                    try db.query("SELECT \(names) FROM \(table.name) ORDER BY \(table.order)", []) { row in
                        guard failure == nil else { return }
                        let values: [SQLValue] = table.columns.enumerated().map { index, column in
                            let i = Int32(index)
                            if row.isNull(i) { return .null }
                            switch column.1 {
                            case .int: return .int(row.int(i))
                            case .text: return .text(row.text(i))
                            case .blob: return .blob(row.blob(i))
                            }
                        }
                        do { try target.db.run(insert, values) } catch { failure = error }
                    }
                    if let failure { throw failure }
                }
            }
        }
    }
}
