import DepotDomain
import DepotMetadata
import DepotStore
import Foundation

/// The clean-up pass and the consistency check that `depotctl gc`/`fsck`
/// (and the hourly timer) run. Everything it deletes is unreachable: no file
/// record and no live reservation claims it.
public final class Maintenance {
    public let metadata: MetadataStore
    public let store: ObjectStore
    let config: DepotConfiguration

    /// What a gc pass did (or, with dry run, would do).
    public struct GCReport {
        /// Resumable uploads past their expiry (unfinished ones had their reservation released).
        public var expiredUploads: [ResumableUpload] = []
        public var reclaimedReservations: [Reservation] = []
        /// Files past their `expires_at` whose records (and quota) went; their objects are among the queued deletes.
        public var expiredFiles: [StoredFile] = []
        public var deletedObjects: [String] = []
        public var abortedUploads: [(key: String, uploadID: String)] = []
        public var failedDeletes: [String] = []
        public var orphanObjects: [String] = []
        /// Expired download links forgotten (dry run: that would be).
        public var expiredDownloadLinks = 0
        /// Signed upload links past their expiry, used or not, forgotten.
        public var expiredUploadLinks = 0
        /// One-time console logins past their expiry, redeemed or not, forgotten.
        public var expiredConsoleLogins = 0
        /// Old events no endpoint waits for any more, forgotten (`[events] keep_days`).
        public var prunedEvents = 0
        /// Another process (on this node or another) held the maintenance
        /// lock: this pass did nothing.
        public var skipped = false
    }

    public struct FsckReport {
        public var missingObjects: [String] = []
        public var sizeMismatches: [(key: String, recorded: Int64, stored: Int64)] = []
        /// Objects no record or reservation claims; `--repair` deletes those past
        /// the grace period and keeps the undated ones (fail closed).
        public var orphanObjects: [StoreObjectInfo] = []
        public var recordsChecked = 0
        public var objectsChecked = 0
        public var isClean: Bool { missingObjects.isEmpty && sizeMismatches.isEmpty && orphanObjects.isEmpty }
    }

    public init(config: DepotConfiguration, metadata: MetadataStore, store: ObjectStore) {
        self.config = config
        self.metadata = metadata
        self.store = store
    }

    /// Opens the configured database (its schema must be current) and store.
    public convenience init(config: DepotConfiguration) throws {
        let metadata = try config.openMetadata()
        try metadata.requireCurrentSchema()
        self.init(config: config, metadata: metadata, store: S3Client(config.store))
    }

    /// One clean-up pass:
    /// 0. resumable uploads past their expiry are removed (an unfinished
    ///    one's reservation released, its parts and staging object queued);
    /// 1. reservations that expired or whose worker died are released;
    /// 1a. files past their expiry are deleted in batches (records, quota,
    ///    shares and download links in one transaction per batch; objects queued);
    /// 2. queued deletes (failed uploads, deleted and expired files, reclaimed
    ///    reservations) are carried out at the store, retried next time on failure;
    /// 3. multipart uploads no reservation knows, older than the grace period, are aborted;
    /// 4. objects no record or reservation claims, older than the grace period, are deleted;
    /// 5. expired download links are forgotten;
    /// 6. events older than `[events] keep_days` that no endpoint waits for are forgotten.
    /// Nodes sharing a database run it one at a time (a dry run needs no turn).
    public func collectGarbage(now: Date = Date(), dryRun: Bool = false) throws -> GCReport {
        if dryRun { return try collectGarbagePass(now: now, dryRun: true) }
        var report = GCReport(skipped: true)
        _ = try metadata.withMaintenanceLock { report = try collectGarbagePass(now: now, dryRun: false) }
        return report
    }

    private func collectGarbagePass(now: Date, dryRun: Bool) throws -> GCReport {
        var report = GCReport()
        let nowSeconds = Int64(now.timeIntervalSince1970)
        for upload in try metadata.expiredResumableUploads(now: nowSeconds, limit: 10_000) {
            if dryRun {
                report.expiredUploads.append(upload)
            } else if let removed = try metadata.expireResumableUpload(id: upload.id, now: nowSeconds) {
                report.expiredUploads.append(removed)
            }
        }
        if dryRun {
            report.reclaimedReservations = try metadata.reservations().filter {
                $0.expiresAt < nowSeconds || !ProcessIdentity.isAlive(pid: $0.ownerPID, start: $0.ownerStart)
            }
        } else {
            report.reclaimedReservations = try metadata.reclaimReservations(now: nowSeconds) {
                ProcessIdentity.isAlive(pid: $0, start: $1)
            }
        }

        if dryRun {
            report.expiredFiles = try metadata.expiredFiles(now: nowSeconds, limit: Self.expiredFilesPerPass)
        } else {
            while report.expiredFiles.count < Self.expiredFilesPerPass {
                let batch = try metadata.deleteExpiredFiles(now: nowSeconds, limit: Self.expiredFileBatch)
                report.expiredFiles += batch
                if batch.count < Self.expiredFileBatch { break }
            }
        }

        var pending = try metadata.pendingDeletes(limit: 10_000)
        if dryRun {
            // Reclaimed reservations and expired files would be queued too.
            pending += report.reclaimedReservations.map {
                PendingDelete(objectKey: $0.objectKey, uploadID: $0.uploadID, reason: "reclaimed reservation",
                                            createdAt: nowSeconds, attempts: 0)
            }
            pending += report.expiredFiles.map {
                PendingDelete(objectKey: $0.objectKey, uploadID: nil, reason: "file expired", createdAt: nowSeconds, attempts: 0)
            }
        }
        for p in pending {
            // Keys are never reused, but a record must never lose its object.
            if try metadata.file(key: p.objectKey) != nil {
                if !dryRun { try metadata.completePendingDelete(objectKey: p.objectKey) }
                continue
            }
            if dryRun {
                report.deletedObjects.append(p.objectKey)
                continue
            }
            do {
                try Self.carryOutQueuedDelete(key: p.objectKey, uploadID: p.uploadID, store: store, metadata: metadata)
                if let uploadID = p.uploadID { report.abortedUploads.append((p.objectKey, uploadID)) }
                report.deletedObjects.append(p.objectKey)
            } catch let error as StoreError {
                try metadata.notePendingDeleteFailure(objectKey: p.objectKey)
                report.failedDeletes.append(p.objectKey)
                if case .unavailable = error { break }
            }
        }

        let graceLimit = now.addingTimeInterval(-TimeInterval(config.orphanGraceSeconds))
        for upload in try store.listMultipartUploads(prefix: "organizations/") where upload.wasInitiated(before: graceLimit) {
            if try metadata.isKeyClaimed(upload.key) { continue }
            if !dryRun { try store.abortMultipartUpload(key: upload.key, uploadID: upload.uploadID) }
            report.abortedUploads.append((upload.key, upload.uploadID))
        }

        try forEachStoreObject { object in
            guard object.isOlder(than: graceLimit), try !metadata.isKeyClaimed(object.key) else { return }
            if !dryRun { try store.deleteObject(key: object.key) }
            report.orphanObjects.append(object.key)
        }
        report.expiredDownloadLinks = try metadata.purgeExpiredDownloadLinks(now: nowSeconds, dryRun: dryRun)
        report.expiredUploadLinks = try metadata.purgeExpiredUploadLinks(now: nowSeconds, dryRun: dryRun)
        report.expiredConsoleLogins = try metadata.purgeExpiredConsoleLogins(now: nowSeconds, dryRun: dryRun)
        if !dryRun { report.prunedEvents = try metadata.pruneEvents(before: nowSeconds - config.events.keepSeconds) }
        return report
    }

    /// Expired files removed per transaction: short enough for the lock it
    /// holds, long enough that a backlog drains in few of them.
    static let expiredFileBatch = 1000
    /// Expired files one pass removes at most; the next pass takes the rest.
    static let expiredFilesPerPass = 10_000
    /// Deletes at the store what an offboarding queued (`MetadataStore.offboard`),
    /// as a gc pass would; what the store refuses stays queued for the next pass.
    public func deleteQueuedObjects(_ items: [(key: String, uploadID: String?)]) throws -> (deleted: [String], failed: [String]) {
        var deleted: [String] = [], failed: [String] = []
        var storeDown = false
        for item in items {
            if storeDown {
                failed.append(item.key)
                continue
            }
            do {
                try Self.carryOutQueuedDelete(key: item.key, uploadID: item.uploadID, store: store, metadata: metadata)
                deleted.append(item.key)
            } catch let error as StoreError {
                try metadata.notePendingDeleteFailure(objectKey: item.key)
                failed.append(item.key)
                if case .unavailable = error { storeDown = true }
            }
        }
        return (deleted, failed)
    }

    /// Removes one resumable upload as its client's `DELETE` would.
    public func abortResumableUpload(id: String, now: Date = Date()) throws -> ResumableUpload? {
        try Self.removeResumableUpload(id: id, reason: "aborted by an administrator", now: Int64(now.timeIntervalSince1970),
                                       store: store, metadata: metadata)
    }

    /// Removes a resumable upload: its reservation is released and, unless
    /// it became a file, its multipart upload and staging object are queued
    /// for deletion and deleted now (what the store refuses, the next gc
    /// does). nil when there is no such upload.
    static func removeResumableUpload(id: String, reason: String, now: Int64, store: ObjectStore,
                                      metadata: MetadataStore) throws -> ResumableUpload? {
        guard let upload = try metadata.removeResumableUpload(id: id, now: now, reason: reason) else { return nil }
        guard upload.fileID == nil else { return upload }
        do {
            try carryOutQueuedDelete(key: upload.objectKey, uploadID: upload.storeUploadID, store: store, metadata: metadata)
            if let staged = upload.stagedKey { try carryOutQueuedDelete(key: staged, uploadID: nil, store: store, metadata: metadata) }
        } catch is StoreError {
            // Still queued: the next gc pass finishes it.
        }
        return upload
    }

    /// Carries out one queued delete: the key's multipart upload aborted
    /// (one already gone counts as aborted), the object deleted, the entry
    /// forgotten. A store failure leaves the entry for the next pass.
    static func carryOutQueuedDelete(key: String, uploadID: String?, store: ObjectStore, metadata: MetadataStore) throws {
        if let uploadID {
            do { try store.abortMultipartUpload(key: key, uploadID: uploadID) } catch StoreError.notFound {}
        }
        try store.deleteObject(key: key)
        try metadata.completePendingDelete(objectKey: key)
    }

    /// Compares the records with the store. With `repair`, deletes orphans
    /// past the grace period and rebuilds every organization's counters;
    /// records whose object is missing are reported, never silently dropped.
    public func check(repair: Bool, now: Date = Date()) throws -> FsckReport {
        var report = FsckReport()
        var stored: [String: Int64] = [:]
        try forEachStoreObject { object in
            report.objectsChecked += 1
            stored[object.key] = object.size
            if try !metadata.isKeyClaimed(object.key) {
                report.orphanObjects.append(object)
            }
        }
        for record in try metadata.allFileKeys() {
            report.recordsChecked += 1
            guard let size = stored[record.key] else {
                report.missingObjects.append(record.key)
                continue
            }
            if size != record.size { report.sizeMismatches.append((record.key, record.size, size)) }
        }
        if repair {
            let graceLimit = now.addingTimeInterval(-TimeInterval(config.orphanGraceSeconds))
            for orphan in report.orphanObjects where orphan.isOlder(than: graceLimit) {
                try store.deleteObject(key: orphan.key)
            }
            for account in try metadata.organizations() {
                try metadata.recalculate(organizationID: account.organizationID)
            }
        }
        return report
    }

    private func forEachStoreObject(_ body: (StoreObjectInfo) throws -> Void) throws {
        var token: String?
        repeat {
            let page = try store.listObjects(prefix: "organizations/", continuationToken: token, maxKeys: 1000)
            for object in page.objects { try body(object) }
            token = page.nextContinuationToken
        } while token != nil
    }
}
