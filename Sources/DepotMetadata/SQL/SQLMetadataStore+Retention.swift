import DepotDomain
import Foundation

extension SQLMetadataStore {
    // MARK: Retention

    /// A range of the partial index `files_by_expiry`: as long as the backlog.
    public func expiredFileCount(now: Int64) throws -> Int64 {
        try db.first("SELECT COUNT(*) FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?", [.int(now)]) { $0.int(0) } ?? 0
    }

    /// Read from the partial index `files_by_expiry`, soonest first.
    public func expiredFiles(now: Int64, limit: Int) throws -> [StoredFile] {
        try db.all("""
            SELECT \(Self.fileColumns) FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?
            ORDER BY expires_at LIMIT ?
            """, [.int(now), .int(Int64(limit))], Self.file)
    }

    /// One batch: the records and the quota they hold go in the same
    /// transaction; their objects are queued for the store.
    public func deleteExpiredFiles(now: Int64, limit: Int) throws -> [StoredFile] {
        try db.writeTransaction {
            let files = try db.all("""
                SELECT \(Self.fileColumns) FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?
                ORDER BY expires_at LIMIT ?\(db.locking("files"))
                """, [.int(now), .int(Int64(limit))], Self.file)
            try removeFileRecords(files, reason: .expired, now: now)
            return files
        }
    }
}
