import DepotDomain

/// What Depot keeps about accounts, files and uploads, in the words of the
/// domain. The workers, the clean-up pass and `depotctl` see only this; each
/// backend (SQLite today) is one folder behind it, and nothing outside this
/// module sees a connection, a result code or SQL.
///
/// Invariants every backend keeps:
/// - counters (used/reserved bytes and files, usage rows) change in the same
///   transaction as the rows they count;
/// - a reservation is taken against used + reserved bytes and files under one
///   lock, so two uploads racing for the last free bytes never both win;
/// - committing turns a reservation into a file record atomically; releasing
///   one queues its key as a pending delete in the same transaction;
/// - a key claimed by a record or a live reservation is never reported free.
public protocol MetadataStore: AnyObject {
    // MARK: Schema

    /// The schema version this binary writes and reads.
    var supportedSchemaVersion: Int { get }
    /// The schema version of the database as it is.
    func schemaVersion() throws -> Int
    /// Applies pending migrations; refuses a database newer than this binary.
    @discardableResult func migrate() throws -> (from: Int, to: Int)
    /// Checks the schema without changing it (workers never migrate): a newer
    /// one is `schemaTooNew`, an older one `unavailable`.
    func requireCurrentSchema() throws
    /// Answers when the database can be read.
    func ping() throws

    // MARK: Plans and accounts

    /// Inserts plans that do not exist yet; existing ones are the admin's and stay.
    func seedPlans(_ plans: [Plan]) throws
    /// Creates or changes a plan; its organizations' usage is measured
    /// against the new quota (`quota.threshold` events), as of `now`.
    func upsertPlan(_ plan: Plan, now: Int64) throws
    func plans() throws -> [Plan]
    func plan(named name: String) throws -> Plan?
    /// Creates the organization and user on first sight; cheap when both exist.
    func ensureAccount(organizationID: String, userID: String, accountType: AccountKind?,
                       individualPlan: String, organizationPlan: String, now: Int64) throws
    /// `ensureAccount`, then `account`, in one read when both exist.
    func ensuredAccount(organizationID: String, userID: String, accountType: AccountKind?,
                        individualPlan: String, organizationPlan: String, now: Int64) throws -> Account?
    func account(organizationID: String) throws -> Account?
    func organizations() throws -> [Account]
    /// False when there is no such organization. The usage is measured
    /// against the new quota (`quota.threshold` events), as of `now`.
    func setPlan(organizationID: String, plan: String, now: Int64) throws -> Bool
    func users(organizationID: String) throws -> [String]

    // MARK: Reservations

    /// Reserves room for one file against the plan and the quota, atomically.
    func reserve(organizationID: String, userID: String, bytes: Int64, objectKey: String,
                 ownerPID: Int32, ownerStart: String, now: Int64, ttl: Int64) throws -> Result<String, QuotaRefusal>
    /// Records the store's multipart upload id so a clean-up can abort it.
    func attachUpload(reservationID: String, uploadID: String) throws
    /// Replaces the reservation by the file record at its real size. False
    /// when the reservation is gone (reclaimed): the upload has then failed.
    func commitUpload(reservationID: String, file: StoredFile, workflowName: String?) throws -> Bool
    /// Gives the reserved room back and queues the key for deletion at the
    /// store. `waitForLock: false` fails at once with `busy` while another
    /// writer holds the lock, for releases that can simply be retried later.
    func releaseReservation(id: String, now: Int64, reason: String, waitForLock: Bool) throws
    func reservation(id: String) throws -> Reservation?
    func reservations() throws -> [Reservation]
    /// Releases reservations that expired or whose worker is gone; returns them.
    func reclaimReservations(now: Int64, ownerIsAlive: (Int32, String) -> Bool) throws -> [Reservation]

    // MARK: Resumable uploads

    /// Reserves `upload.length` against the plan and quota (a reservation held
    /// until `upload.expiresAt`, by no worker) and records the upload, atomically.
    func createResumableUpload(_ upload: ResumableUpload) throws -> Result<Void, QuotaRefusal>
    func resumableUpload(id: String) throws -> ResumableUpload?
    func resumableUploadParts(id: String) throws -> [ResumableUploadPart]
    /// Every upload, or one organization's, oldest first.
    func resumableUploads(organizationID: String?) throws -> [ResumableUpload]
    /// Takes the upload's write lock for `owner` until `until`. Another
    /// holder keeps it while `ownerIsAlive` says it lives (true), or, when
    /// that cannot be told (nil: another host), until its time is up.
    func lockResumableUpload(id: String, owner: String, now: Int64, until: Int64,
                             ownerIsAlive: (String) -> Bool?) throws -> ResumableUploadLock
    func unlockResumableUpload(id: String, owner: String) throws
    /// Extends `owner`'s lock to `until`; false when it no longer holds it.
    func renewResumableUploadLock(id: String, owner: String, until: Int64) throws -> Bool
    /// Records progress made under the lock; a replaced staging object is
    /// queued for deletion. False when `owner` no longer holds the lock.
    func recordResumableProgress(id: String, owner: String, progress: ResumableUploadProgress, lockUntil: Int64,
                                 now: Int64) throws -> Bool
    /// Turns the upload's reservation into `file` and marks the upload done,
    /// in one transaction. False when the lock or the reservation is gone.
    func completeResumableUpload(id: String, owner: String, file: StoredFile) throws -> Bool
    /// Removes the upload: its reservation is released, its object (with its
    /// multipart upload) and staging object queued for deletion. A completed
    /// upload's file stays. Returns what was removed.
    func removeResumableUpload(id: String, now: Int64, reason: String) throws -> ResumableUpload?
    /// Unfinished uploads still running, and those past their expiry.
    func resumableUploadCounts(now: Int64) throws -> (open: Int, expired: Int)
    /// Uploads whose `expiresAt` has passed, oldest first.
    func expiredResumableUploads(now: Int64, limit: Int) throws -> [ResumableUpload]

    // MARK: Signed upload links

    func createUploadLink(_ link: UploadLink) throws
    func uploadLink(id: String) throws -> UploadLink?
    /// Marks the link used if it is unused, unrevoked and unexpired at `now`;
    /// false otherwise (one upload per link, whoever comes first).
    func claimUploadLink(id: String, now: Int64) throws -> Bool
    /// Gives a claimed link back (its upload failed before storing anything).
    func releaseUploadLink(id: String) throws
    func revokeUploadLink(id: String, organizationID: String, userID: String, now: Int64) throws -> UploadLinkRevocation
    /// Forgets links past their expiry, used or not (the files they brought
    /// stay); returns how many (a dry run only counts them).
    func purgeExpiredUploadLinks(now: Int64, dryRun: Bool) throws -> Int

    // MARK: One-time console logins

    func createConsoleLogin(_ login: ConsoleLogin) throws
    func consoleLogin(id: String) throws -> ConsoleLogin?
    /// Marks the login used if it is unused and unexpired at `now`; false
    /// otherwise (one redemption per code, whoever comes first).
    func claimConsoleLogin(id: String, now: Int64) throws -> Bool
    /// Forgets logins past their expiry, used or not; returns how many (a dry run only counts them).
    func purgeExpiredConsoleLogins(now: Int64, dryRun: Bool) throws -> Int

    // MARK: Download links

    /// Records a link `presigned-url` made; returns the id that stands for it
    /// (an earlier row's when the same URL was signed twice in one second).
    func createDownloadLink(_ link: DownloadLink) throws -> String
    /// Whether a link with this signature digest is recorded and unexpired at
    /// `now` (one index probe; the caller has checked its signature).
    func isDownloadLinkLive(signatureDigest: String, now: Int64) throws -> Bool
    /// The user's unexpired links, newest first, at most `limit`.
    func downloadLinks(organizationID: String, userID: String, now: Int64, limit: Int) throws -> [DownloadLink]
    /// Revokes one of the user's links; false when they have no such link.
    func deleteDownloadLink(id: String, organizationID: String, userID: String) throws -> Bool
    /// Forgets links past their expiry; returns how many (a dry run only counts them).
    func purgeExpiredDownloadLinks(now: Int64, dryRun: Bool) throws -> Int
    /// Forgets every link (the link-signing secret was replaced); returns how many.
    func deleteAllDownloadLinks() throws -> Int

    // MARK: Files

    func file(key: String) throws -> StoredFile?
    /// Looks a file up by its name among the caller's own files (never a workflow file).
    func file(organizationID: String, userID: String, objectName: String) throws -> StoredFile?
    /// One page of the caller's files and their total; every page costs what the first does.
    func listFiles(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                   page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64)
    /// One page of the files of a listing's scope whose original name contains
    /// the search text (case-insensitive; on SQLite for ASCII letters only), and their total.
    func searchFiles(_ search: FileSearch) throws -> (files: [StoredFile], total: Int64)
    /// Removes the record, frees its quota and queues its object for deletion, in one transaction.
    /// Never a workflow file (those are deleted by key).
    func deleteFile(organizationID: String, userID: String, objectName: String, now: Int64) throws -> StoredFile?
    /// Removes every file of the organization `targets` names (and whose
    /// owner matches where one is given) in one transaction: records,
    /// counters, the shares and download links of their keys, and their
    /// objects queued for deletion. Returns the removed files; a target that
    /// matches nothing is simply absent.
    func deleteFiles(organizationID: String, _ targets: [FileTarget], now: Int64) throws -> [StoredFile]
    /// Whether a record or a reservation claims the key, read in one snapshot.
    func isKeyClaimed(_ key: String) throws -> Bool
    func allFileKeys(organizationID: String?) throws -> [(key: String, size: Int64)]

    // MARK: Sharing

    /// Records a grant on a file of `share.ownerID` (returning the existing
    /// one when it was already granted); the grantee must be a member.
    func createShare(_ share: Share) throws -> ShareCreation
    func share(id: String) throws -> Share?
    func shares(objectKey: String) throws -> [Share]
    /// False when there is no such share.
    func deleteShare(id: String) throws -> Bool
    /// The file at `key` when another member of `organizationID` shared it
    /// with `userID`, directly or with the whole organization.
    func fileShared(key: String, organizationID: String, userID: String) throws -> StoredFile?
    /// One page of the files shared with `userID` by others, and their total.
    func listSharedFiles(organizationID: String, userID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                         page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64)
    /// One page of the organization's files shared with the whole
    /// organization (read through the shares' indexes), and their total.
    func listOrganizationSharedFiles(organizationID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                                     page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64)
    /// One page of every file of the organization, and their total.
    func listOrganizationFiles(organizationID: String, category: FileCategory?, sort: FileSort, order: ListOrder,
                               page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64)
    // MARK: Workflow files

    /// One page of a workflow's files and their total; with a run, every page
    /// costs what the first does (index `files_by_workflow`).
    func listWorkflowFiles(_ query: WorkflowFileQuery) throws -> (files: [StoredFile], total: Int64)
    /// Removes the run's files (`uploaderID` nil: every member's) as `deleteFiles` does, in one transaction.
    func deleteWorkflowRun(organizationID: String, workflowID: String, runID: String, uploaderID: String?,
                           now: Int64) throws -> [StoredFile]

    // MARK: Retention

    /// How many files are past their `expiresAt` at `now` (waiting for the clean-up).
    func expiredFileCount(now: Int64) throws -> Int64
    /// Files whose `expiresAt` is at or before `now`, soonest first.
    func expiredFiles(now: Int64, limit: Int) throws -> [StoredFile]
    /// Removes up to `limit` expired files as `deleteFiles` does, in one
    /// transaction; returns them (fewer than `limit`: none are left).
    func deleteExpiredFiles(now: Int64, limit: Int) throws -> [StoredFile]
    // MARK: Offboarding

    /// What `offboard` would remove, read in one snapshot; nil when the
    /// target does not exist.
    func offboardingInventory(_ target: OffboardingTarget, now: Int64) throws -> OffboardingReport?
    /// Removes the target's records (files, shares, download and upload
    /// links, resumable uploads, reservations; for a user or organization
    /// also their usage rows and records) and frees their quota in one
    /// transaction, queueing every store object as a pending delete. nil
    /// when the target does not exist.
    func offboard(_ target: OffboardingTarget, now: Int64) throws -> OffboardingReport?

    // MARK: Pending deletes

    func pendingDeletes(limit: Int) throws -> [PendingDelete]
    func completePendingDelete(objectKey: String) throws
    func notePendingDeleteFailure(objectKey: String) throws

    // MARK: Usage

    func usage(organizationID: String, userID: String) throws -> UsageReport?
    /// Workflow figures from the counters, never from a scan of files.
    func storageUsage(organizationID: String, createdBy: String?) throws -> StorageUsageReport
    /// Per member who holds files or reservations: their used bytes and
    /// files (counters) and reserved bytes, largest used first, at most
    /// `MemberUsageReport.limit`; never from a scan of files.
    func memberUsage(organizationID: String) throws -> MemberUsageReport
    /// Rebuilds the organization's counters from its records and live reservations.
    func recalculate(organizationID: String) throws
    func registerBucket(_ name: String, now: Int64) throws
    func buckets() throws -> [(name: String, createdAt: Int64)]

    // MARK: Administration

    func filesPerKey() throws -> [KeyUsage]
    func adminStats() throws -> AdminStats
    /// nil when the user was never seen in this organization.
    func userSummary(organizationID: String, userID: String) throws -> UserSummary?
    func userCount(organizationID: String) throws -> Int64
    func organizationCount(plan: String) throws -> Int64
    /// The backend's own consistency check: empty when sound.
    func integrityProblems() throws -> [String]
    /// A complete, checked copy of the database written to `destination`
    /// (created 0600; never overwrites the live database), without stopping writers.
    func backup(to destination: String) throws -> BackupReport
    /// Runs `body` unless another process, on any node, is running it under
    /// the same lock: the periodic clean-up runs on one node at a time,
    /// wherever its timer fires. False when `body` did not run.
    func withMaintenanceLock(_ body: () throws -> Void) throws -> Bool

    // MARK: Events (webhooks)
    //
    // Every change an event reports (a file created, deleted or expired, a
    // resumable upload expired, a quota threshold crossed) records its event
    // in the same transaction, with one pending delivery per endpoint in
    // `eventEndpoints` that wants it: no change without its event, no event
    // without its change.

    /// The configured endpoints (names and the types they want).
    var eventEndpoints: [EventEndpoint] { get set }
    /// Records `file.rejected` for an upload refused before it became a file
    /// (malware scanning): its own transaction, no file row. Returns the event id.
    @discardableResult
    func recordFileRejected(organizationID: String, userID: String, originalFilename: String, size: Int64,
                            reason: String, signature: String, route: String, now: Int64) throws -> String
    /// Removes a resumable upload past its expiry, as `removeResumableUpload`,
    /// recording `upload.expired` when it never became a file.
    func expireResumableUpload(id: String, now: Int64) throws -> ResumableUpload?
    /// Takes deliveries due at these endpoints (oldest first, an
    /// organization's in order per endpoint) and hides them from other
    /// deliverers for `lease` seconds.
    func claimEventDeliveries(endpoints: [String], now: Int64, lease: Int64, limit: Int) throws -> [EventDelivery]
    func recordEventDelivered(eventID: String, endpoint: String, now: Int64) throws
    /// A failed attempt, tried again at `retryAt`; nil: given up (dead).
    func recordEventFailure(eventID: String, endpoint: String, error: String, retryAt: Int64?) throws
    /// The newest `limit` events (since a time), oldest first, with their deliveries.
    func events(since: Int64?, failedOnly: Bool, limit: Int) throws -> [EventRecord]
    /// Queues events again (by id, or every one since a time) for the
    /// configured endpoints. Returns the deliveries queued.
    func replayEvents(ids: [String]?, since: Int64?, now: Int64) throws -> Int
    func eventCounts() throws -> EventCounts
    /// Forgets events older than `before` that no endpoint waits for.
    func pruneEvents(before: Int64) throws -> Int
}

extension MetadataStore {
    public func releaseReservation(id: String, now: Int64, reason: String) throws {
        try releaseReservation(id: id, now: now, reason: reason, waitForLock: true)
    }

    public func pendingDeletes() throws -> [PendingDelete] { try pendingDeletes(limit: 1000) }

    public func allFileKeys() throws -> [(key: String, size: Int64)] { try allFileKeys(organizationID: nil) }
}
