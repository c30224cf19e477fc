import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

@Suite struct MetadataStoreTests {
    // MARK: Schema

    @Test func migrateFromEmptyCreatesTheSchema() throws {
        // A new database file is migrated from version 0 to the current version with every table.
        let temp = try TempDatabase()
        let store = try SQLiteMetadataStore(path: temp.path)
        #expect(try store.schemaVersion() == 0)
        let result = try store.migrate()
        #expect(result.from == 0 && result.to == SQLiteMetadataStore.supportedSchemaVersion)
        #expect(try store.schemaVersion() == SQLiteMetadataStore.supportedSchemaVersion)
        let tables = try store.db.all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") { $0.text(0) }
        for table in ["buckets", "files", "organizations", "pending_deletes", "plans", "reservations", "usage_counters", "users", "workflows"] {
            #expect(tables.contains(table), "\(table)")
        }
        #expect(throws: Never.self) { try store.requireCurrentSchema() }
    }

    @Test(arguments: TestBackend.available) func migrateTwiceChangesNothing(_ backend: TestBackend) throws {
        // Running migrate on a current database is a no-op that keeps the data.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        let supported = store.supportedSchemaVersion
        #expect(try store.schemaVersion() == supported)
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        let again = try store.migrate()
        #expect(again.from == supported && again.to == supported)
        let reopened = try temp.connect()
        #expect(try reopened.migrate().from == supported)
        #expect(try reopened.account(organizationID: Fixture.org) != nil)
    }

    @Test(arguments: TestBackend.available) func newerSchemaIsRefused(_ backend: TestBackend) throws {
        // A database written by a newer Depot is refused, by migrate and by the workers' check, and left untouched.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        let supported = store.supportedSchemaVersion
        try store.db.writeTransaction { try store.db.setSchemaVersion(supported + 5) }
        let migrateError = #expect(throws: DatabaseError.self) { try store.migrate() }
        guard case .schemaTooNew(let found, let limit)? = migrateError else {
            Issue.record("expected schemaTooNew, got \(String(describing: migrateError))")
            return
        }
        #expect(found == supported + 5 && limit == supported)
        let checkError = #expect(throws: DatabaseError.self) { try store.requireCurrentSchema() }
        if case .schemaTooNew? = checkError {} else { Issue.record("expected schemaTooNew, got \(String(describing: checkError))") }
        #expect(try store.schemaVersion() == supported + 5)
    }

    @Test(arguments: TestBackend.available) func unmigratedDatabaseIsUnavailableToWorkers(_ backend: TestBackend) throws {
        // Workers never migrate: an old schema makes them report the database unavailable.
        let temp = try TempDatabase(backend)
        let store = try temp.connect()
        let error = #expect(throws: DatabaseError.self) { try store.requireCurrentSchema() }
        if case .unavailable? = error {} else { Issue.record("expected unavailable, got \(String(describing: error))") }
    }

    // MARK: Plans and accounts

    @Test(arguments: TestBackend.available) func seedPlansKeepsAdminChanges(_ backend: TestBackend) throws {
        // Seeding again after an admin edited a plan keeps the admin's values and only adds missing plans.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        var edited = Plan.individual
        edited.quotaBytes = 42 << 30
        edited.allowedCategories = [.general]
        try store.upsertPlan(edited, now: Fixture.now)
        let extra = Plan(name: "extra", quotaBytes: 1, maxFileSizeBytes: 1, maxFiles: 1)
        try store.seedPlans([.individual, .organization, extra])
        #expect(try store.plan(named: "individual") == edited)
        #expect(try store.plan(named: "organization") == .organization)
        #expect(try store.plan(named: "extra") == extra)
        #expect(try store.plans().map(\.name) == ["extra", "individual", "organization", "tiny"])
    }

    @Test(arguments: TestBackend.available) func individualAccountGetsTheIndividualPlan(_ backend: TestBackend) throws {
        // An organization first seen with acct=individual gets the individual plan.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: .individual,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        let account = try #require(try store.account(organizationID: Fixture.org))
        #expect(account.accountType == .individual)
        #expect(account.plan == .individual)
        #expect(account.quota == QuotaState(usedBytes: 0, reservedBytes: 0, fileCount: 0, reservedFiles: 0))
        #expect(try store.users(organizationID: Fixture.org) == [Fixture.user])
    }

    @Test(arguments: TestBackend.available) func organizationIsTheDefaultAccountKind(_ backend: TestBackend) throws {
        // Without acct (or with acct=organization) the configured organization plan applies.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "tiny", now: Fixture.now)
        try store.ensureAccount(organizationID: Fixture.otherOrg, userID: Fixture.user, accountType: .organization,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        #expect(try store.account(organizationID: Fixture.org)?.accountType == .organization)
        #expect(try store.account(organizationID: Fixture.org)?.plan == Fixture.tinyPlan)
        #expect(try store.account(organizationID: Fixture.otherOrg)?.plan == .organization)
    }

    @Test(arguments: TestBackend.available) func accountKindIsOnlyUsedTheFirstTime(_ backend: TestBackend) throws {
        // A later token with another acct or a new user does not change the organization's kind or plan.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: .organization,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.otherUser, accountType: .individual,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now + 1)
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: .individual,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now + 2)
        #expect(try store.account(organizationID: Fixture.org)?.accountType == .organization)
        #expect(try store.account(organizationID: Fixture.org)?.plan == .organization)
        #expect(try store.users(organizationID: Fixture.org) == [Fixture.otherUser, Fixture.user].sorted())
    }

    @Test(arguments: TestBackend.available) func ensuredAccountIsWhatAccountReadsOnEveryCall(_ backend: TestBackend) throws {
        // The one read of /quota: an account made on first sight, then the
        // organization as `account` reads it, a plan change and new usage
        // included, on the very next call.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        func ensured(_ user: String, _ kind: AccountKind? = nil) throws -> Account? {
            try store.ensuredAccount(organizationID: Fixture.org, userID: user, accountType: kind,
                                     individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        }
        let first = try #require(try ensured(Fixture.user, .individual))
        #expect(first.accountType == .individual && first.plan == .individual)
        #expect(first.quota == QuotaState(usedBytes: 0, reservedBytes: 0, fileCount: 0, reservedFiles: 0))
        #expect(try store.account(organizationID: Fixture.org) == first)
        #expect(try ensured(Fixture.otherUser, .organization) == first)
        #expect(try store.users(organizationID: Fixture.org) == [Fixture.otherUser, Fixture.user].sorted())
        #expect(try store.setPlan(organizationID: Fixture.org, plan: "organization", now: Fixture.now))
        #expect(try ensured(Fixture.user)?.plan == .organization)
        try store.store(makeFile(name: "a.bin", size: 250))
        #expect(try ensured(Fixture.user)?.quota == QuotaState(usedBytes: 250, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
        #expect(try ensured(Fixture.user) == store.account(organizationID: Fixture.org))
    }

    // MARK: Reservations

    /// A store with one organization on the tiny plan (1000 bytes, 600 per file, 3 files).
    func tinyStore(_ temp: TempDatabase) throws -> SQLMetadataStore {
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "tiny", now: Fixture.now)
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.otherUser, accountType: nil,
                                individualPlan: "individual", organizationPlan: "tiny", now: Fixture.now)
        return store
    }

    func reserve(_ store: MetadataStore, _ bytes: Int64, key: String = "k-\(UUID().uuidString)", pid: Int32 = 100,
                 now: Int64 = Fixture.now, ttl: Int64 = 3600) throws -> Result<String, QuotaRefusal> {
        try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: bytes, objectKey: key,
                          ownerPID: pid, ownerStart: "start-\(pid)", now: now, ttl: ttl)
    }

    @Test(arguments: TestBackend.available) func reserveCommitMovesBytesFromReservedToUsed(_ backend: TestBackend) throws {
        // Reserving holds bytes and a file slot; committing turns them into used bytes and a file at the real size.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        let file = makeFile(name: "a.bin", size: 250)
        let id = try reserve(store, 300, key: file.objectKey).get()
        #expect(try store.quota() == QuotaState(usedBytes: 0, reservedBytes: 300, fileCount: 0, reservedFiles: 1))
        let r = try #require(try store.reservation(id: id))
        #expect(r.bytes == 300 && r.objectKey == file.objectKey && r.expiresAt == Fixture.now + 3600 && r.ownerPID == 100)
        #expect(try store.commitUpload(reservationID: id, file: file, workflowName: nil))
        #expect(try store.quota() == QuotaState(usedBytes: 250, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
        #expect(try store.reservation(id: id) == nil)
        #expect(try store.file(key: file.objectKey) == file)
        #expect(try store.file(organizationID: Fixture.org, userID: Fixture.user, objectName: "a.bin") == file)
        #expect(try store.pendingDeletes().isEmpty)
    }

    @Test(arguments: TestBackend.available) func releaseGivesTheRoomBackAndQueuesTheObject(_ backend: TestBackend) throws {
        // A failed upload's reservation is released and its (possibly partial) object queued for deletion.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        let id = try reserve(store, 400, key: "partial-key").get()
        try store.attachUpload(reservationID: id, uploadID: "upload-1")
        try store.releaseReservation(id: id, now: Fixture.now + 5, reason: "upload failed")
        #expect(try store.quota() == QuotaState(usedBytes: 0, reservedBytes: 0, fileCount: 0, reservedFiles: 0))
        #expect(try store.reservations().isEmpty)
        #expect(try store.pendingDeletes() == [PendingDelete(objectKey: "partial-key", uploadID: "upload-1",
                                                                           reason: "upload failed", createdAt: Fixture.now + 5, attempts: 0)])
        // Releasing again (or an unknown id) changes nothing.
        try store.releaseReservation(id: id, now: Fixture.now + 6, reason: "again")
        try store.releaseReservation(id: "no-such-id", now: Fixture.now + 6, reason: "again")
        #expect(try store.quota() == QuotaState(usedBytes: 0, reservedBytes: 0, fileCount: 0, reservedFiles: 0))
        #expect(try store.pendingDeletes().count == 1)
    }

    @Test(arguments: TestBackend.available) func reserveRefusesAFileOverThePerFileLimit(_ backend: TestBackend) throws {
        // 601 bytes on a 600-per-file plan is file_too_large and holds nothing.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        #expect(try reserve(store, 601) == .failure(.fileTooLarge(limit: 600)))
        #expect(try store.quota() == QuotaState(usedBytes: 0, reservedBytes: 0, fileCount: 0, reservedFiles: 0))
        #expect(try store.reservations().isEmpty)
    }

    @Test(arguments: TestBackend.available) func reserveCountsOtherReservationsAgainstTheQuota(_ backend: TestBackend) throws {
        // With 600 reserved and 300 used, 100 bytes fit exactly and 1 more byte does not.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        try store.store(makeFile(name: "used.bin", size: 300))
        _ = try reserve(store, 600).get()
        #expect(try reserve(store, 101) == .failure(.quotaExceeded(available: 100)))
        #expect(try store.quota() == QuotaState(usedBytes: 300, reservedBytes: 600, fileCount: 1, reservedFiles: 1))
        #expect(throws: Never.self) { try reserve(store, 100).get() }
        #expect(try store.quota() == QuotaState(usedBytes: 300, reservedBytes: 700, fileCount: 1, reservedFiles: 2))
    }

    @Test(arguments: TestBackend.available) func reserveCountsReservedFilesAgainstTheFileLimit(_ backend: TestBackend) throws {
        // Two stored files and one upload in flight fill a 3-file plan.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        try store.store(makeFile(name: "1", size: 1))
        try store.store(makeFile(name: "2", size: 1))
        _ = try reserve(store, 1).get()
        #expect(try reserve(store, 1) == .failure(.tooManyFiles(limit: 3)))
        #expect(try store.reservations().count == 1)
    }

    @Test(arguments: TestBackend.available) func reserveForAnUnknownOrganizationFails(_ backend: TestBackend) throws {
        // Reserving for an organization that was never created is an error, not a silent success.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        #expect(throws: DatabaseError.self) { try reserve(store, 1) }
        #expect(try store.reservations().isEmpty)
    }

    @Test(arguments: TestBackend.available) func commitAfterTheReservationVanishedChangesNothing(_ backend: TestBackend) throws {
        // If clean-up reclaimed the reservation mid-upload, commit returns false and records nothing.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        let file = makeFile(name: "late.bin", size: 100)
        let id = try reserve(store, 100, key: file.objectKey).get()
        try store.releaseReservation(id: id, now: Fixture.now, reason: "reclaimed reservation")
        let before = try store.quota()
        #expect(try store.commitUpload(reservationID: id, file: file, workflowName: nil) == false)
        #expect(try store.quota() == before)
        #expect(try store.file(key: file.objectKey) == nil)
        #expect(try store.usage(organizationID: Fixture.org, userID: Fixture.user)?.userFileCount == 0)
        #expect(try store.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .uploadedAt, order: .desc,
                                    page: 1, pageSize: 20).total == 0)
    }

    @Test(arguments: TestBackend.available) func reclaimTakesExpiredAndOrphanedReservations(_ backend: TestBackend) throws {
        // Expired reservations and those of dead workers are reclaimed; a live, unexpired one stays.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        let expired = try reserve(store, 100, key: "expired", pid: 10, now: Fixture.now - 100, ttl: 50).get()
        let orphan = try reserve(store, 200, key: "orphan", pid: 20, now: Fixture.now, ttl: 3600).get()
        let live = try reserve(store, 300, key: "live", pid: 30, now: Fixture.now, ttl: 3600).get()
        try store.attachUpload(reservationID: orphan, uploadID: "mpu-20")
        var asked: [Int32] = []
        let reclaimed = try store.reclaimReservations(now: Fixture.now) { pid, start in
            asked.append(pid)
            return pid != 20 && start == "start-\(pid)"
        }
        #expect(Set(reclaimed.map(\.id)) == [expired, orphan])
        #expect(try store.reservations().map(\.id) == [live])
        #expect(try store.quota() == QuotaState(usedBytes: 0, reservedBytes: 300, fileCount: 0, reservedFiles: 1))
        let pending = try store.pendingDeletes()
        #expect(pending.map(\.objectKey).sorted() == ["expired", "orphan"])
        #expect(pending.first { $0.objectKey == "orphan" }?.uploadID == "mpu-20")
        #expect(pending.allSatisfy { $0.reason == "reclaimed reservation" && $0.createdAt == Fixture.now })
    }

    @Test(arguments: TestBackend.available) func reservationExpiringThisSecondIsNotYetReclaimed(_ backend: TestBackend) throws {
        // A reservation is reclaimed only once its expiry has passed.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        _ = try reserve(store, 100, now: Fixture.now - 10, ttl: 10).get()
        #expect(try store.reclaimReservations(now: Fixture.now) { _, _ in true }.isEmpty)
        #expect(try store.reclaimReservations(now: Fixture.now + 1) { _, _ in true }.count == 1)
    }

    // MARK: Files

    @Test(arguments: TestBackend.available) func deleteFreesQuotaAndQueuesTheObject(_ backend: TestBackend) throws {
        // Deleting a file frees its bytes and slot at once and queues its object for the store.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        let keep = try store.store(makeFile(name: "keep.bin", size: 100))
        let gone = try store.store(makeFile(name: "gone.bin", size: 250, category: .dataSource))
        let deleted = try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "gone.bin", now: Fixture.now + 9)
        #expect(deleted == gone)
        #expect(try store.quota() == QuotaState(usedBytes: 100, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
        #expect(try store.file(key: gone.objectKey) == nil)
        #expect(try store.file(key: keep.objectKey) == keep)
        #expect(try store.pendingDeletes() == [PendingDelete(objectKey: gone.objectKey, uploadID: nil, reason: "file deleted",
                                                                           createdAt: Fixture.now + 9, attempts: 0)])
        let usage = try #require(try store.usage(organizationID: Fixture.org, userID: Fixture.user))
        #expect(usage.byCategory[.dataSource] == CategoryUsage(bytes: 0, files: 0))
        #expect(usage.userUsedBytes == 100 && usage.userFileCount == 1)
        // The freed room can be used again.
        #expect(throws: Never.self) { try store.store(makeFile(name: "again.bin", size: 600)) }
    }

    @Test(arguments: TestBackend.available) func deleteOnlyReachesTheCallersOwnFile(_ backend: TestBackend) throws {
        // Another user's name, an unknown name or a second delete returns nil and changes nothing.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        try store.store(makeFile(user: Fixture.otherUser, name: "theirs.bin", size: 100))
        #expect(try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "theirs.bin", now: Fixture.now) == nil)
        #expect(try store.deleteFile(organizationID: Fixture.otherOrg, userID: Fixture.otherUser, objectName: "theirs.bin", now: Fixture.now) == nil)
        #expect(try store.deleteFile(organizationID: Fixture.org, userID: Fixture.otherUser, objectName: "theirs.bin", now: Fixture.now) != nil)
        #expect(try store.deleteFile(organizationID: Fixture.org, userID: Fixture.otherUser, objectName: "theirs.bin", now: Fixture.now) == nil)
        #expect(try store.quota() == QuotaState(usedBytes: 0, reservedBytes: 0, fileCount: 0, reservedFiles: 0))
        #expect(try store.pendingDeletes().count == 1)
    }

    @Test(arguments: TestBackend.available) func completedPendingDeleteIsForgotten(_ backend: TestBackend) throws {
        // Once the store confirms, the pending delete goes; a failure counts an attempt.
        let temp = try TempDatabase(backend)
        let store = try tinyStore(temp)
        try store.store(makeFile(name: "a", size: 1))
        try store.store(makeFile(name: "b", size: 1))
        _ = try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "a", now: Fixture.now)
        _ = try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "b", now: Fixture.now)
        let keys = try store.pendingKeys()
        try store.notePendingDeleteFailure(objectKey: keys[1])
        try store.completePendingDelete(objectKey: keys[0])
        #expect(try store.pendingDeletes().map { [$0.objectKey: $0.attempts] } == [[keys[1]: 1]])
    }

    // MARK: Listing

    /// 57 files of one user with ties in size, upload time and name, inserted in shuffled order,
    /// plus files of others that must never show.
    func listingStore(_ temp: TempDatabase) throws -> (SQLMetadataStore, [StoredFile]) {
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        var rng = SplitMix64(state: 57)
        var files: [StoredFile] = []
        for i in 0..<57 {
            let category: FileCategory = [.general, .dataSource, .profileImage][i % 3]
            files.append(makeFile(name: "f\(i)", original: "name-\(i % 11).txt", size: Int64(i % 4) * 100,
                                  category: category, uploadedAt: Fixture.now + Int64(i % 13)))
        }
        files.shuffle(using: &rng)
        for f in files { try store.store(f) }
        try store.store(makeFile(user: Fixture.otherUser, name: "other-user", size: 5))
        try store.ensureAccount(organizationID: Fixture.otherOrg, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        try store.store(makeFile(org: Fixture.otherOrg, name: "other-org", size: 5))
        return (store, files)   // `files` is in insertion order
    }

    /// The naive answer: sort by the column, ties by insertion order, all reversed for desc.
    func naive(_ files: [StoredFile], sort: FileSort, order: ListOrder) -> [StoredFile] {
        let indexed = Array(files.enumerated())
        let ascending = indexed.sorted { a, b in
            switch sort {
            case .uploadedAt: return (a.element.uploadedAt, a.offset) < (b.element.uploadedAt, b.offset)
            case .size: return (a.element.size, a.offset) < (b.element.size, b.offset)
            case .originalFilename: return (a.element.originalFilename, a.offset) < (b.element.originalFilename, b.offset)
            }
        }.map(\.element)
        return order == .asc ? ascending : ascending.reversed()
    }

    static let sortsAndOrders = [FileSort.uploadedAt, .size, .originalFilename].flatMap { s in [ListOrder.asc, .desc].map { (s, $0) } }

    @Test(arguments: TestBackend.available, sortsAndOrders)
    func everyPageEqualsTheNaiveSort(_ backend: TestBackend, sortAndOrder: (FileSort, ListOrder)) throws {
        let (sort, order) = sortAndOrder
        // For 57 files, every page (first half read forwards, second half from the other end) equals the naive sort.
        let temp = try TempDatabase(backend)
        let (store, files) = try listingStore(temp)
        let expected = naive(files, sort: sort, order: order)
        for pageSize in [1, 5, 10, 20, 28, 29, 56, 57, 100] {
            var seen: [StoredFile] = []
            var page = 1
            while true {
                let result = try store.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: sort, order: order,
                                                 page: page, pageSize: pageSize)
                #expect(result.total == 57)
                if result.files.isEmpty { break }
                let start = (page - 1) * pageSize
                let want = Array(expected[start..<min(start + pageSize, expected.count)])
                #expect(result.files.map(\.objectName) == want.map(\.objectName), "page \(page) of size \(pageSize)")
                seen += result.files
                page += 1
            }
            #expect(seen.count == 57, "page size \(pageSize)")
            #expect(page - 1 == (57 + pageSize - 1) / pageSize, "page size \(pageSize)")
        }
    }

    @Test(arguments: TestBackend.available, [FileCategory.general, .dataSource, .profileImage])
    func categoryFilterPagesOnlyThatCategory(_ backend: TestBackend, category: FileCategory) throws {
        // With a category, total and every page cover only that category's files, in order.
        let temp = try TempDatabase(backend)
        let (store, files) = try listingStore(temp)
        let expected = naive(files.filter { $0.category == category }, sort: .size, order: .desc)
        var seen: [String] = []
        for page in 1...5 {
            let result = try store.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: category, sort: .size, order: .desc,
                                             page: page, pageSize: 4)
            #expect(result.total == 19)
            seen += result.files.map(\.objectName)
        }
        #expect(seen == expected.map(\.objectName))
    }

    @Test(arguments: TestBackend.available) func pagePastTheEndIsEmptyWithTheTotal(_ backend: TestBackend) throws {
        // Asking for page 100 returns no files but still the total; another user's listing is empty.
        let temp = try TempDatabase(backend)
        let (store, _) = try listingStore(temp)
        let result = try store.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .uploadedAt, order: .desc,
                                         page: 100, pageSize: 20)
        #expect(result.files.isEmpty && result.total == 57)
        let stranger = try store.listFiles(organizationID: Fixture.org, userID: "nobody", category: nil, sort: .uploadedAt, order: .desc,
                                           page: 1, pageSize: 20)
        #expect(stranger.files.isEmpty && stranger.total == 0)
    }

    // MARK: Usage

    @Test(arguments: TestBackend.available) func usageReportsOrganizationAndCallerFigures(_ backend: TestBackend) throws {
        // Usage has the organization's totals, the caller's share and every category, including empty ones.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        try store.store(makeFile(name: "a", size: 100, category: .dataSource))
        try store.store(makeFile(name: "b", size: 50, category: .general))
        try store.store(makeFile(user: Fixture.otherUser, name: "c", size: 7, category: .dataSource))
        _ = try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 1000, objectKey: "r", ownerPID: 1, ownerStart: "s",
                              now: Fixture.now, ttl: 60)
        let usage = try #require(try store.usage(organizationID: Fixture.org, userID: Fixture.user))
        #expect(usage == UsageReport(usedBytes: 157, reservedBytes: 1000, fileCount: 3, quotaBytes: Plan.organization.quotaBytes,
                                     userUsedBytes: 150, userFileCount: 2,
                                     byCategory: [.dataSource: CategoryUsage(bytes: 107, files: 2), .general: CategoryUsage(bytes: 50, files: 1),
                                                  .profileImage: CategoryUsage(bytes: 0, files: 0)]))
        #expect(usage.availableBytes == Plan.organization.quotaBytes - 1157)
        #expect(try store.usage(organizationID: "unknown", userID: Fixture.user) == nil)
    }

    /// An organization with three workflows, plain files and two users.
    func workflowStore(_ temp: TempDatabase) throws -> SQLMetadataStore {
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        let (a, b, c, d) = ("wf-a", "wf-b", "wf-c", "wf-d")
        try store.store(makeFile(name: "plain", size: 1000))
        try store.store(makeFile(name: "a1", size: 300, uploadedAt: Fixture.now, workflowID: a, runID: "r1", direction: .input), workflowName: "Alpha v1")
        try store.store(makeFile(name: "a2", size: 200, uploadedAt: Fixture.now + 1, workflowID: a, runID: "r1", direction: .output), workflowName: "Alpha v2")
        try store.store(makeFile(name: "a3", size: 100, uploadedAt: Fixture.now + 2, workflowID: a, runID: "r2", direction: .output), workflowName: nil)
        try store.store(makeFile(user: Fixture.otherUser, name: "b1", size: 900, workflowID: b, runID: "r3", direction: .input), workflowName: "Beta")
        try store.store(makeFile(name: "c1", size: 600, workflowID: c, runID: "r4", direction: .output), workflowName: "Gamma")
        let d1 = try store.store(makeFile(name: "d1", size: 50, workflowID: d, runID: "r5", direction: .input), workflowName: "Delta")
        _ = try store.deleteFiles(organizationID: Fixture.org, [FileTarget(key: d1.objectKey, ownerID: Fixture.user)], now: Fixture.now)
        return store
    }

    @Test(arguments: TestBackend.available) func storageUsageBreaksDownByWorkflowLargestFirst(_ backend: TestBackend) throws {
        // Totals count every file, input/output count workflow files by direction, and the breakdown is largest first.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        let report = try store.storageUsage(organizationID: Fixture.org, createdBy: nil)
        #expect(report.totalBytes == 1000 + 600 + 900 + 600)
        #expect(report.fileCount == 6)
        #expect(report.inputBytes == 300 + 900)
        #expect(report.outputBytes == 200 + 100 + 600)
        #expect(report.breakdown == [
            WorkflowUsage(workflowID: "wf-b", workflowName: "Beta", bytes: 900, fileCount: 1),
            WorkflowUsage(workflowID: "wf-a", workflowName: "Alpha v2", bytes: 600, fileCount: 3),
            WorkflowUsage(workflowID: "wf-c", workflowName: "Gamma", bytes: 600, fileCount: 1),
        ])
    }

    @Test(arguments: TestBackend.available) func latestWorkflowNameWinsAndAMissingNameKeepsIt(_ backend: TestBackend) throws {
        // A later upload with a new name renames the workflow; one without a name keeps the last name.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        let alpha = try store.storageUsage(organizationID: Fixture.org, createdBy: nil).breakdown.first { $0.workflowID == "wf-a" }
        #expect(alpha?.workflowName == "Alpha v2")
        try store.store(makeFile(name: "a4", size: 1, uploadedAt: Fixture.now + 3, workflowID: "wf-a", runID: "r9", direction: .input),
                        workflowName: "Alpha v3")
        let renamed = try store.storageUsage(organizationID: Fixture.org, createdBy: nil).breakdown.first { $0.workflowID == "wf-a" }
        #expect(renamed?.workflowName == "Alpha v3")
    }

    @Test(arguments: TestBackend.available) func createdByRestrictsEveryFigure(_ backend: TestBackend) throws {
        // With createdBy, totals, directions and the breakdown count only that user's files.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        let mine = try store.storageUsage(organizationID: Fixture.org, createdBy: Fixture.user)
        #expect(mine.totalBytes == 1000 + 600 + 600)
        #expect(mine.fileCount == 5)
        #expect(mine.inputBytes == 300)
        #expect(mine.outputBytes == 900)
        #expect(mine.breakdown.map(\.workflowID) == ["wf-a", "wf-c"])
        let theirs = try store.storageUsage(organizationID: Fixture.org, createdBy: Fixture.otherUser)
        #expect(theirs == StorageUsageReport(totalBytes: 900, inputBytes: 900, outputBytes: 0, fileCount: 1,
                                             breakdown: [WorkflowUsage(workflowID: "wf-b", workflowName: "Beta", bytes: 900, fileCount: 1)]))
        let nobody = try store.storageUsage(organizationID: Fixture.org, createdBy: "nobody")
        #expect(nobody == StorageUsageReport(totalBytes: 0, inputBytes: 0, outputBytes: 0, fileCount: 0, breakdown: []))
    }

    @Test(arguments: TestBackend.available) func storageUsageOfAnotherOrganizationIsSeparate(_ backend: TestBackend) throws {
        // One organization's files never show in another's figures.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        #expect(try store.storageUsage(organizationID: Fixture.otherOrg, createdBy: nil)
            == StorageUsageReport(totalBytes: 0, inputBytes: 0, outputBytes: 0, fileCount: 0, breakdown: []))
    }

    @Test(arguments: TestBackend.available) func recalculateRepairsTamperedCounters(_ backend: TestBackend) throws {
        // After counters drift, recalculate rebuilds them from the records and live reservations.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        _ = try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 77, objectKey: "r", ownerPID: 1, ownerStart: "s",
                              now: Fixture.now, ttl: 60)
        let usage = try store.usage(organizationID: Fixture.org, userID: Fixture.user)
        let storage = try store.storageUsage(organizationID: Fixture.org, createdBy: nil)
        let listed = try store.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .size, order: .asc,
                                         page: 1, pageSize: 100)
        try store.db.execute("""
            UPDATE organizations SET used_bytes = 5, reserved_bytes = 999, file_count = 42, reserved_files = 7;
            UPDATE usage_counters SET bytes = bytes * 3 + 1, files = files + 2;
            INSERT INTO usage_counters (organization_id, user_id, category, bytes, files) VALUES ('\(Fixture.org)', 'ghost', 'general', 10, 1);
            """)
        #expect(try store.usage(organizationID: Fixture.org, userID: Fixture.user) != usage)
        try store.recalculate(organizationID: Fixture.org)
        #expect(try store.usage(organizationID: Fixture.org, userID: Fixture.user) == usage)
        #expect(try store.quota() == QuotaState(usedBytes: 3100, reservedBytes: 77, fileCount: 6, reservedFiles: 1))
        #expect(try store.storageUsage(organizationID: Fixture.org, createdBy: nil) == storage)
        let relisted = try store.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .size, order: .asc,
                                           page: 1, pageSize: 100)
        #expect(relisted.total == listed.total && relisted.files == listed.files)
    }

    @Test(arguments: TestBackend.available) func bucketsAreRegisteredOnce(_ backend: TestBackend) throws {
        // A bucket keeps the time Depot first stored into it.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        try store.registerBucket("depot", now: 10)
        try store.registerBucket("depot", now: 20)
        try store.registerBucket("archive", now: 30)
        #expect(try store.buckets().map { "\($0.name)@\($0.createdAt)" } == ["archive@30", "depot@10"])
    }
}
