import DepotDomain

extension SQLMetadataStore {
    /// A name search reads every file of its scope once to count the matches
    /// (no index serves a substring), so its cost grows with the scope: the
    /// caller's files, the files shared with them, or (admins) the
    /// organization's. The page itself is read as `pageOfFiles` reads one.
    public func searchFiles(_ q: FileSearch) throws -> (files: [StoredFile], total: Int64) {
        var filter: String
        var args: [SQLValue]
        switch q.scope {
        case .own:
            filter = "organization_id = ? AND user_id = ?"
            args = [.text(q.organizationID), .text(q.userID)]
        case .shared:
            filter = """
                organization_id = ? AND user_id <> ? AND object_key IN (SELECT object_key FROM shares
                    WHERE organization_id = ? AND (grantee_id = ? OR grantee_id = ''))
                """
            args = [.text(q.organizationID), .text(q.userID), .text(q.organizationID), .text(q.userID)]
        case .organization:
            filter = "organization_id = ?"
            args = [.text(q.organizationID)]
            if q.sharedWithOrganizationOnly {
                filter += " AND object_key IN (SELECT object_key FROM shares WHERE organization_id = ? AND grantee_id = '')"
                args.append(.text(q.organizationID))
            }
        }
        if let category = q.category { filter += " AND category = ?"; args.append(.text(category.rawValue)) }
        filter += " AND LOWER(original_filename) LIKE ? ESCAPE '!'"
        args.append(.text("%" + Self.likeEscaped(q.nameContains.lowercased()) + "%"))
        return try db.readTransaction {
            let total = try db.first("SELECT COUNT(*) FROM files WHERE \(filter)", args) { $0.int(0) } ?? 0
            return (try pageOfFiles(filter: filter, args: args, total: total, sort: q.sort, order: q.order,
                                    page: q.page, pageSize: q.pageSize), total)
        }
    }

    /// `text` as a LIKE pattern that matches only itself ('!' escapes).
    static func likeEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "%" || c == "_" || c == "!" { out.append("!") }
            out.append(c)
        }
        return out
    }
}
