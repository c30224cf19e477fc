import DepotDomain

extension SQLMetadataStore {
    // MARK: Download links

    private static let downloadLinkColumns = "id, organization_id, user_id, object_key, type, signature_digest, created_at, expires_at"

    private static func downloadLink(_ r: Row) -> DownloadLink {
        DownloadLink(id: r.text(0), organizationID: r.text(1), userID: r.text(2), objectKey: r.text(3),
                     disposition: Disposition(rawValue: r.text(4)) ?? .attachment, signatureDigest: r.text(5),
                     createdAt: r.int(6), expiresAt: r.int(7))
    }

    public func createDownloadLink(_ l: DownloadLink) throws -> String {
        try db.writeTransaction {
            // The same key, type and expiry signed twice in one second give
            // the same URL: one row (the first one's id) stands for both answers.
            try db.run("INSERT INTO download_links (\(Self.downloadLinkColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (signature_digest) DO NOTHING",
                       [.text(l.id), .text(l.organizationID), .text(l.userID), .text(l.objectKey), .text(l.disposition.rawValue),
                        .text(l.signatureDigest), .int(l.createdAt), .int(l.expiresAt)])
            if db.changes == 1 { return l.id }
            return try db.first("SELECT id FROM download_links WHERE signature_digest = ?", [.text(l.signatureDigest)]) { $0.text(0) } ?? l.id
        }
    }

    public func isDownloadLinkLive(signatureDigest: String, now: Int64) throws -> Bool {
        try db.first("SELECT 1 FROM download_links WHERE signature_digest = ? AND expires_at >= ?",
                     [.text(signatureDigest), .int(now)]) { _ in true } ?? false
    }

    public func downloadLinks(organizationID: String, userID: String, now: Int64, limit: Int) throws -> [DownloadLink] {
        try db.all("""
            SELECT \(Self.downloadLinkColumns) FROM download_links
            WHERE organization_id = ? AND user_id = ? AND expires_at >= ? ORDER BY created_at DESC, id DESC LIMIT ?
            """, [.text(organizationID), .text(userID), .int(now), .int(Int64(limit))], Self.downloadLink)
    }

    public func deleteDownloadLink(id: String, organizationID: String, userID: String) throws -> Bool {
        try db.writeTransaction {
            try db.run("DELETE FROM download_links WHERE id = ? AND organization_id = ? AND user_id = ?",
                       [.text(id), .text(organizationID), .text(userID)])
            return db.changes == 1
        }
    }

    public func purgeExpiredDownloadLinks(now: Int64, dryRun: Bool) throws -> Int {
        try purgeExpired("download_links", now: now, dryRun: dryRun)
    }

    public func deleteAllDownloadLinks() throws -> Int {
        try db.writeTransaction {
            try db.run("DELETE FROM download_links")
            return db.changes
        }
    }
}
