import DepotDomain
import Foundation

extension SQLMetadataStore {
    private static let uploadColumns = """
        id, organization_id, user_id, reservation_id, object_key, object_name, original_filename, content_type, category,
        workflow_id, run_id, direction, workflow_name, metadata_header, length, "offset", store_upload_id, key_id, parts_bytes,
        part_count, staged_key, hash_state, head, created_at, expires_at, file_id, file_expires_in
        """

    private static func upload(_ r: Row) -> ResumableUpload {
        ResumableUpload(id: r.text(0), organizationID: r.text(1), userID: r.text(2), reservationID: r.text(3), objectKey: r.text(4),
                        objectName: r.text(5), originalFilename: r.text(6), contentType: r.text(7),
                        category: FileCategory(rawValue: r.text(8)) ?? .general, workflowID: r.optionalText(9), runID: r.optionalText(10),
                        direction: r.optionalText(11), workflowName: r.optionalText(12), metadataHeader: r.text(13), length: r.int(14),
                        offset: r.int(15), storeUploadID: r.text(16), keyID: r.text(17), partsBytes: r.int(18),
                        partCount: Int(r.int(19)), stagedKey: r.optionalText(20), hashState: r.blob(21), head: r.blob(22),
                        createdAt: r.int(23), expiresAt: r.int(24), fileID: r.optionalText(25),
                        fileExpiresIn: r.optionalInt(26))
    }

    /// Reserves like `reserve` (owner pid 0: a lease, see `ProcessIdentity`)
    /// and inserts the upload in the same transaction.
    public func createResumableUpload(_ u: ResumableUpload) throws -> Result<Void, QuotaRefusal> {
        try db.writeTransaction {
            guard let account = try account(organizationID: u.organizationID, locking: true) else { throw DatabaseError.failed("unknown organization \(u.organizationID)") }
            if let refusal = try QuotaPolicy.check(size: u.length, plan: account.plan, state: account.quota)
                ?? memberRefusal(plan: account.plan, organizationID: u.organizationID, userID: u.userID, bytes: u.length) {
                return .failure(refusal)
            }
            try db.run("""
                INSERT INTO reservations (id, organization_id, user_id, bytes, object_key, upload_id, owner_pid, owner_start, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                """, [.text(u.reservationID), .text(u.organizationID), .text(u.userID), .int(u.length), .text(u.objectKey),
                      .text(u.storeUploadID), .text("resumable:" + u.id), .int(u.createdAt), .int(u.expiresAt)])
            try db.run("UPDATE organizations SET reserved_bytes = reserved_bytes + ?, reserved_files = reserved_files + 1 WHERE id = ?",
                       [.int(u.length), .text(u.organizationID)])
            try db.run("""
                INSERT INTO resumable_uploads (\(Self.uploadColumns))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(u.id), .text(u.organizationID), .text(u.userID), .text(u.reservationID), .text(u.objectKey),
                      .text(u.objectName), .text(u.originalFilename), .text(u.contentType), .text(u.category.rawValue),
                      .optional(u.workflowID), .optional(u.runID), .optional(u.direction), .optional(u.workflowName),
                      .text(u.metadataHeader), .int(u.length), .int(u.offset), .text(u.storeUploadID), .text(u.keyID),
                      .int(u.partsBytes), .int(Int64(u.partCount)), .optional(u.stagedKey), .blob(u.hashState), .blob(u.head),
                      .int(u.createdAt), .int(u.expiresAt), .optional(u.fileID), u.fileExpiresIn.map { .int($0) } ?? .null])
            return .success(())
        }
    }

    public func resumableUpload(id: String) throws -> ResumableUpload? {
        try db.first("SELECT \(Self.uploadColumns) FROM resumable_uploads WHERE id = ?", [.text(id)], Self.upload)
    }

    public func resumableUploadParts(id: String) throws -> [ResumableUploadPart] {
        try db.all("SELECT number, etag, size FROM resumable_upload_parts WHERE upload_id = ? ORDER BY number", [.text(id)]) {
            ResumableUploadPart(number: Int($0.int(0)), etag: $0.text(1), size: $0.int(2))
        }
    }

    public func resumableUploads(organizationID: String?) throws -> [ResumableUpload] {
        if let organizationID {
            return try db.all("SELECT \(Self.uploadColumns) FROM resumable_uploads WHERE organization_id = ? ORDER BY created_at, id",
                              [.text(organizationID)], Self.upload)
        }
        return try db.all("SELECT \(Self.uploadColumns) FROM resumable_uploads ORDER BY created_at, id", [], Self.upload)
    }

    public func lockResumableUpload(id: String, owner: String, now: Int64, until: Int64,
                                    ownerIsAlive: (String) -> Bool?) throws -> ResumableUploadLock {
        try db.writeTransaction {
            guard let holder = try db.first("SELECT lock_owner, lock_until FROM resumable_uploads WHERE id = ?\(db.locking("resumable_uploads"))", [.text(id)], {
                ($0.optionalText(0), $0.int(1))
            }) else { return .missing }
            if let current = holder.0, current != owner {
                switch ownerIsAlive(current) {
                case true?: return .busy
                case nil where holder.1 >= now: return .busy
                default: break
                }
            }
            try db.run("UPDATE resumable_uploads SET lock_owner = ?, lock_until = ? WHERE id = ?", [.text(owner), .int(until), .text(id)])
            guard let upload = try resumableUpload(id: id) else { return .missing }
            return .locked(upload)
        }
    }

    public func unlockResumableUpload(id: String, owner: String) throws {
        try db.writeTransaction {
            try db.run("UPDATE resumable_uploads SET lock_owner = NULL, lock_until = 0 WHERE id = ? AND lock_owner = ?",
                       [.text(id), .text(owner)])
        }
    }

    public func renewResumableUploadLock(id: String, owner: String, until: Int64) throws -> Bool {
        try db.writeTransaction {
            try db.run("UPDATE resumable_uploads SET lock_until = ? WHERE id = ? AND lock_owner = ?", [.int(until), .text(id), .text(owner)])
            return db.changes == 1
        }
    }

    /// The upload, when `owner` holds its lock.
    private func holdsLock(_ id: String, _ owner: String) throws -> ResumableUpload? {
        try db.first("SELECT \(Self.uploadColumns) FROM resumable_uploads WHERE id = ? AND lock_owner = ?\(db.locking("resumable_uploads"))",
                     [.text(id), .text(owner)], Self.upload)
    }

    public func recordResumableProgress(id: String, owner: String, progress p: ResumableUploadProgress, lockUntil: Int64,
                                        now: Int64) throws -> Bool {
        try db.writeTransaction {
            guard let u = try holdsLock(id, owner) else { return false }
            var partsBytes = u.partsBytes, partCount = u.partCount
            for part in p.newParts {
                try db.run("""
                    INSERT INTO resumable_upload_parts (upload_id, number, etag, size) VALUES (?, ?, ?, ?)
                    ON CONFLICT (upload_id, number) DO UPDATE SET etag = excluded.etag, size = excluded.size
                    """, [.text(id), .int(Int64(part.number)), .text(part.etag), .int(part.size)])
                partsBytes += part.size
                partCount = max(partCount, part.number)
            }
            if let old = u.stagedKey, old != p.stagedKey {
                try queuePendingDelete(old, reason: "replaced staging object", now: now)
            }
            try db.run("""
                UPDATE resumable_uploads SET "offset" = ?, parts_bytes = ?, part_count = ?, staged_key = ?, hash_state = ?, head = ?,
                    lock_until = ? WHERE id = ?
                """, [.int(p.offset), .int(partsBytes), .int(Int64(partCount)), .optional(p.stagedKey), .blob(p.hashState),
                      .blob(p.head), .int(lockUntil), .text(id)])
            return true
        }
    }

    public func completeResumableUpload(id: String, owner: String, file: StoredFile) throws -> Bool {
        try db.writeTransaction {
            guard let u = try holdsLock(id, owner), u.fileID == nil else { return false }
            guard try commitReservation(u.reservationID, file: file, workflowName: u.workflowName) else { return false }
            if let staged = u.stagedKey {
                try queuePendingDelete(staged, reason: "completed upload's staging object", now: file.uploadedAt)
            }
            try db.run("DELETE FROM resumable_upload_parts WHERE upload_id = ?", [.text(id)])
            try db.run("""
                UPDATE resumable_uploads SET "offset" = length, file_id = ?, staged_key = NULL, lock_owner = NULL, lock_until = 0
                WHERE id = ?
                """, [.text(file.id), .text(id)])
            return true
        }
    }

    public func removeResumableUpload(id: String, now: Int64, reason: String) throws -> ResumableUpload? {
        try db.writeTransaction { try dropResumableUpload(id: id, now: now, reason: reason).map(\.upload) }
    }

    /// `removeResumableUpload`'s work, inside the caller's write transaction;
    /// also returns the reservation it released.
    func dropResumableUpload(id: String, now: Int64, reason: String) throws -> (upload: ResumableUpload, released: Reservation?)? {
        guard let u = try db.first("SELECT \(Self.uploadColumns) FROM resumable_uploads WHERE id = ?\(db.locking("resumable_uploads"))",
                                   [.text(id)], Self.upload) else { return nil }
        var released: Reservation?
        if u.fileID == nil {
            if let r = try reservation(id: u.reservationID, locking: true) {
                try dropReservation(r, now: now, reason: reason)
                released = r
            }
            if let staged = u.stagedKey {
                try queuePendingDelete(staged, reason: reason, now: now)
            }
        }
        try db.run("DELETE FROM resumable_uploads WHERE id = ?", [.text(id)])
        return (u, released)
    }

    public func resumableUploadCounts(now: Int64) throws -> (open: Int, expired: Int) {
        try db.first("""
            SELECT COALESCE(SUM(CASE WHEN expires_at >= ?1 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN expires_at < ?1 THEN 1 ELSE 0 END), 0)
            FROM resumable_uploads WHERE file_id IS NULL
            """, [.int(now)]) { (Int($0.int(0)), Int($0.int(1))) } ?? (0, 0)
    }

    public func expiredResumableUploads(now: Int64, limit: Int) throws -> [ResumableUpload] {
        try db.all("SELECT \(Self.uploadColumns) FROM resumable_uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
                   [.int(now), .int(Int64(limit))], Self.upload)
    }
}
