import DepotDomain

extension PostgreSQLMetadataStore {
    /// The shared listing's plan (count from the counters; a page past the
    /// middle read from the other end of the index) in one statement: a read
    /// transaction of two queries costs four round trips to the server, this
    /// one, and one statement is one snapshot. The branch not taken is a
    /// one-time filter that PostgreSQL never runs (its LIMIT is still
    /// evaluated, hence the GREATEST).
    func listFilesInOneStatement(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                 page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        let offset = Int64(page - 1) * Int64(pageSize)
        let column = Self.sortColumn(sort)
        var args: [SQLValue] = [.text(organizationID), .text(userID), .int(offset), .int(Int64(pageSize))]
        var filter = "organization_id = ?1 AND user_id = ?2"
        if let category {
            filter += " AND category = ?5"
            args.append(.text(category.rawValue))
        }
        let forward = order == .asc ? "ASC" : "DESC", backward = order == .asc ? "DESC" : "ASC"
        var total: Int64 = 0
        var files: [StoredFile] = []
        try db.query("""
            WITH total AS (SELECT COALESCE(SUM(files), 0)::bigint AS n FROM usage_counters WHERE \(filter))
            SELECT total.n, page.* FROM total LEFT JOIN LATERAL (
                (SELECT \(Self.fileColumns) FROM files WHERE \(filter) AND ?3 <= total.n / 2
                 ORDER BY \(column) \(forward), seq \(forward) LIMIT ?4 OFFSET ?3)
                UNION ALL
                (SELECT \(Self.fileColumns) FROM files WHERE \(filter) AND ?3 > total.n / 2 AND ?3 < total.n
                 ORDER BY \(column) \(backward), seq \(backward)
                 LIMIT GREATEST(LEAST(?4, total.n - ?3), 0) OFFSET GREATEST(total.n - ?3 - LEAST(?4, total.n - ?3), 0))
            ) page ON true
            """, args) { r in
            total = r.int(0)
            if !r.isNull(1) { files.append(Self.file(r, from: 1)) }
        }
        if offset > total / 2 { files.reverse() }
        return (files, total)
    }
}
