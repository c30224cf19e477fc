import DepotDomain

extension SQLMetadataStore {
    private static let linkColumns = "id, organization_id, user_id, category, max_size, secret_hash, created_at, expires_at, used_at, revoked_at"

    private static func link(_ r: Row) -> UploadLink {
        UploadLink(id: r.text(0), organizationID: r.text(1), userID: r.text(2), category: r.optionalText(3).flatMap(FileCategory.init(rawValue:)),
                   maxSize: r.int(4), secretHash: r.blob(5), createdAt: r.int(6), expiresAt: r.int(7), usedAt: r.optionalInt(8),
                   revokedAt: r.optionalInt(9))
    }

    public func createUploadLink(_ l: UploadLink) throws {
        try db.writeTransaction {
            try db.run("INSERT INTO upload_links (\(Self.linkColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                       [.text(l.id), .text(l.organizationID), .text(l.userID), .optional(l.category?.rawValue), .int(l.maxSize),
                        .blob(l.secretHash), .int(l.createdAt), .int(l.expiresAt)])
        }
    }

    public func uploadLink(id: String) throws -> UploadLink? {
        try db.first("SELECT \(Self.linkColumns) FROM upload_links WHERE id = ?", [.text(id)], Self.link)
    }

    public func claimUploadLink(id: String, now: Int64) throws -> Bool {
        try db.writeTransaction {
            try db.run("UPDATE upload_links SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
                       [.int(now), .text(id), .int(now)])
            return db.changes == 1
        }
    }

    public func releaseUploadLink(id: String) throws {
        try db.writeTransaction {
            try db.run("UPDATE upload_links SET used_at = NULL WHERE id = ?", [.text(id)])
        }
    }

    public func revokeUploadLink(id: String, organizationID: String, userID: String, now: Int64) throws -> UploadLinkRevocation {
        try db.writeTransaction {
            guard let l = try db.first("SELECT \(Self.linkColumns) FROM upload_links WHERE id = ?\(db.locking("upload_links"))", [.text(id)], Self.link),
                  l.organizationID == organizationID, l.userID == userID, l.revokedAt == nil else {
                return .missing
            }
            if l.usedAt != nil { return .used }
            try db.run("UPDATE upload_links SET revoked_at = ? WHERE id = ?", [.int(now), .text(id)])
            return .revoked
        }
    }

    public func purgeExpiredUploadLinks(now: Int64, dryRun: Bool) throws -> Int {
        try purgeExpired("upload_links", now: now, dryRun: dryRun)
    }
}
