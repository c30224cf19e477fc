import DepotDomain

/// Offboarding (`depotctl user delete`, `org delete`, `file rm`): everything
/// attached to a user, an organization or one file goes in one write
/// transaction, the quota freed with it; the store objects become pending
/// deletes. The dry run reads the same rows in one snapshot and changes nothing.
extension SQLMetadataStore {
    // MARK: Offboarding

    public func offboardingInventory(_ target: OffboardingTarget, now: Int64) throws -> OffboardingReport? {
        try db.readTransaction { try offboard(target, now: now, apply: false) }
    }

    public func offboard(_ target: OffboardingTarget, now: Int64) throws -> OffboardingReport? {
        try db.writeTransaction { try offboard(target, now: now, apply: true) }
    }

    private func offboard(_ target: OffboardingTarget, now: Int64, apply: Bool) throws -> OffboardingReport? {
        switch target {
        case .file(let key):
            return try offboardFile(key, now: now, apply: apply)
        case .user(let organizationID, let userID):
            guard try db.first("SELECT 1 FROM users WHERE organization_id = ? AND id = ?", [.text(organizationID), .text(userID)], { _ in true }) != nil
            else { return nil }
            return try offboardMembers(organizationID: organizationID, userID: userID, now: now, apply: apply)
        case .organization(let id):
            guard try db.first("SELECT 1 FROM organizations WHERE id = ?", [.text(id)], { _ in true }) != nil else { return nil }
            return try offboardMembers(organizationID: id, userID: nil, now: now, apply: apply)
        }
    }

    /// The rows of one user (`userID`) or of the whole organization (nil).
    private func offboardMembers(organizationID: String, userID: String?, now: Int64, apply: Bool) throws -> OffboardingReport {
        let reason = userID == nil ? "organization deleted" : "user deleted"
        // Every table but shares has organization_id and user_id.
        let scope = userID == nil ? "organization_id = ?1" : "organization_id = ?1 AND user_id = ?2"
        let args: [SQLValue] = [.text(organizationID)] + (userID.map { [.text($0)] } ?? [])
        var report = OffboardingReport()
        func count(_ sql: String, _ arguments: [SQLValue]) throws -> Int64 { try db.first(sql, arguments) { $0.int(0) } ?? 0 }
        func remove(_ table: String, _ filter: String, _ arguments: [SQLValue]) throws -> Int64 {
            let n = try count("SELECT COUNT(*) FROM \(table) WHERE \(filter)", arguments)
            if apply { try db.run("DELETE FROM \(table) WHERE \(filter)", arguments) }
            return n
        }

        // Commits and deletes change the organization's row: holding it first
        // (as `recalculate` does) keeps them out until this commits.
        if apply {
            _ = try db.first("SELECT id FROM organizations WHERE id = ?\(db.locking("organizations"))", [.text(organizationID)]) { $0.text(0) }
        }

        // Shares of the member's files and shares with the member.
        report.shares = try remove("shares", userID == nil ? "organization_id = ?1" : "organization_id = ?1 AND (owner_id = ?2 OR grantee_id = ?2)", args)
        if apply { try recountShares(organizationID: organizationID) }
        report.downloadLinks = try remove("download_links", scope, args)
        report.uploadLinks = try remove("upload_links", scope, args)
        // Unredeemed console logins would sign a departed member back in.
        report.consoleLogins = try remove("console_logins", scope, args)

        // Resumable uploads: an unfinished one's reservation released, its
        // multipart upload and staging object queued.
        var released = Set<String>()
        for id in try db.all("SELECT id FROM resumable_uploads WHERE \(scope) ORDER BY id", args, { $0.text(0) }) {
            report.resumableUploads += 1
            if apply {
                guard let dropped = try dropResumableUpload(id: id, now: now, reason: reason) else { continue }
                if let r = dropped.released { note(r, in: &report, released: &released) }
                if dropped.upload.fileID == nil, let staged = dropped.upload.stagedKey { report.queuedDeletes.append((staged, nil)) }
            } else if let upload = try resumableUpload(id: id), upload.fileID == nil {
                if let r = try reservation(id: upload.reservationID) { note(r, in: &report, released: &released) }
                if let staged = upload.stagedKey { report.queuedDeletes.append((staged, nil)) }
            }
        }
        // Uploads in flight: their worker's commit finds the reservation gone and fails.
        for id in try db.all("SELECT id FROM reservations WHERE \(scope) ORDER BY id", args, { $0.text(0) }) where !released.contains(id) {
            guard let r = try reservation(id: id, locking: apply) else { continue }
            if apply { try dropReservation(r, now: now, reason: reason) }
            note(r, in: &report, released: &released)
        }

        // The files: records gone, counters and usage rows with them, objects queued.
        let files = try db.all("SELECT \(Self.fileColumns) FROM files WHERE \(scope) ORDER BY object_key\(apply ? db.locking("files") : "")",
                               args, Self.file)
        for f in files {
            report.files += 1
            report.bytes += f.size
            report.queuedDeletes.append((f.objectKey, nil))
            if apply { try queuePendingDelete(f.objectKey, reason: reason, now: now) }
        }
        if apply {
            try db.run("DELETE FROM files WHERE \(scope)", args)
            try db.run("DELETE FROM usage_counters WHERE \(scope)", args)
            try db.run("UPDATE organizations SET used_bytes = used_bytes - ?, file_count = file_count - ? WHERE id = ?",
                       [.int(report.bytes), .int(report.files), .text(organizationID)])
            // Every removed file is reported, as removeFileRecords does.
            try recordRemovalEvents(files, reason: userID == nil ? .organizationDeleted : .userDeleted, now: now)
            if userID != nil { try noteQuotaThresholds(organizationID: organizationID, now: now) }
        }

        if let userID {
            report.users = try remove("users", "organization_id = ?1 AND id = ?2", [.text(organizationID), .text(userID)])
        } else {
            if apply {
                try db.run("DELETE FROM workflows WHERE organization_id = ?", [.text(organizationID)])
            }
            report.users = try remove("users", "organization_id = ?1", [.text(organizationID)])
            if apply {
                try db.run("DELETE FROM quota_thresholds WHERE organization_id = ?", [.text(organizationID)])
                try db.run("DELETE FROM organizations WHERE id = ?", [.text(organizationID)])
            }
        }
        return report
    }

    private func note(_ r: Reservation, in report: inout OffboardingReport, released: inout Set<String>) {
        guard released.insert(r.id).inserted else { return }
        report.reservations += 1
        report.reservedBytes += r.bytes
        report.queuedDeletes.append((r.objectKey, r.uploadID))
    }

    /// One file by its key, as its owner's delete would remove it, with its shares.
    private func offboardFile(_ key: String, now: Int64, apply: Bool) throws -> OffboardingReport? {
        guard let f = try db.first("SELECT \(Self.fileColumns) FROM files WHERE object_key = ?\(apply ? db.locking("files") : "")",
                                   [.text(key)], Self.file) else { return nil }
        var report = OffboardingReport()
        report.files = 1
        report.bytes = f.size
        report.shares = try db.first("SELECT COUNT(*) FROM shares WHERE object_key = ?", [.text(key)]) { $0.int(0) } ?? 0
        report.downloadLinks = try db.first("SELECT COUNT(*) FROM download_links WHERE object_key = ?", [.text(key)]) { $0.int(0) } ?? 0
        report.queuedDeletes = [(key, nil)]
        if apply { try removeFileRecords([f], reason: .removedByAdministrator, now: now) }
        return report
    }
}
