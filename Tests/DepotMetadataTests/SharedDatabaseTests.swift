import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

/// What holds when several connections (workers, or nodes sharing one
/// PostgreSQL server) use one database at once, on every backend.
@Suite struct SharedDatabaseTests {
    /// Runs `body(i)` on `count` threads released at the same moment; returns each result.
    func together<T>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, Error>] {
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        let lock = NSLock()
        nonisolated(unsafe) var results: [Result<T, Error>] = []
        for i in 0..<count {
            group.enter()
            Thread.detachNewThread {
                start.wait()
                let r = Result { try body(i) }
                lock.lock(); results.append(r); lock.unlock()
                group.leave()
            }
        }
        for _ in 0..<count { start.signal() }
        _ = group.wait(timeout: .now() + 60)
        lock.lock(); defer { lock.unlock() }
        return results
    }

    @Test(arguments: TestBackend.available)
    func racingConnectionsNeverOverfillTheQuota(_ backend: TestBackend) throws {
        // Eight connections reserving 400 of the tiny plan's 1000 bytes at once: exactly two win, every round.
        for round in 0..<5 {
            let temp = try TempDatabase(backend)
            let setup = try temp.store()
            try setup.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                    individualPlan: "individual", organizationPlan: "tiny", now: Fixture.now)
            nonisolated(unsafe) let stores = try (0..<8).map { _ in try temp.connect(busyTimeoutMilliseconds: 30_000) }
            let results = together(8) { i in
                try stores[i].reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 400, objectKey: UUID().uuidString,
                                      ownerPID: 1, ownerStart: "s", now: Fixture.now, ttl: 60)
            }
            let outcomes = results.compactMap { try? $0.get() }
            #expect(outcomes.count == 8, "round \(round): \(results)")
            #expect(outcomes.filter { if case .success = $0 { return true } else { return false } }.count == 2, "round \(round)")
            #expect(try setup.quota() == QuotaState(usedBytes: 0, reservedBytes: 800, fileCount: 0, reservedFiles: 2), "round \(round)")
        }
    }

    @Test(arguments: TestBackend.available)
    func commitAndReleaseRacingOnOneReservationCountOnce(_ backend: TestBackend) throws {
        // A commit and a reclaim racing for the same reservation: one of them takes it, the counters move once.
        for round in 0..<10 {
            let temp = try TempDatabase(backend)
            let setup = try temp.store()
            try setup.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                    individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
            let file = makeFile(name: "race-\(round)", size: 300)
            guard case .success(let id) = try setup.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 500,
                                                            objectKey: file.objectKey, ownerPID: 1, ownerStart: "s", now: Fixture.now, ttl: 60)
            else { Issue.record("refused"); return }
            nonisolated(unsafe) let stores = try (0..<2).map { _ in try temp.connect(busyTimeoutMilliseconds: 30_000) }
            let results = together(2) { i -> Bool in
                if i == 0 { return try stores[0].commitUpload(reservationID: id, file: file, workflowName: nil) }
                try stores[1].releaseReservation(id: id, now: Fixture.now, reason: "test")
                return true
            }
            #expect(results.allSatisfy { (try? $0.get()) != nil }, "\(results)")
            let quota = try setup.quota()
            let committed = try setup.file(key: file.objectKey) != nil
            #expect(quota == QuotaState(usedBytes: committed ? 300 : 0, reservedBytes: 0, fileCount: committed ? 1 : 0, reservedFiles: 0),
                    "round \(round)")
        }
    }

    @Test(arguments: TestBackend.available)
    func listingSortsNamesByteByByte(_ backend: TestBackend) throws {
        // Names sort by their bytes on every backend (upper case before "_" before lower case), whatever the server's locale.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        for name in ["a.txt", "B.txt", "_x.txt", "Z.txt", "é.txt", "b.txt"] { try store.store(makeFile(name: name, size: 1)) }
        let listed = try store.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .originalFilename,
                                         order: .asc, page: 1, pageSize: 10)
        #expect(listed.files.map(\.originalFilename) == ["B.txt", "Z.txt", "_x.txt", "a.txt", "b.txt", "é.txt"])
    }

    @Test(arguments: TestBackend.available)
    func maintenanceRunsOnOneNodeAtATime(_ backend: TestBackend) throws {
        // While one clean-up holds the maintenance lock, another connection's is skipped (PostgreSQL); SQLite needs no lock.
        let temp = try TempDatabase(backend)
        let first = try temp.store(), second = try temp.connect()
        var innerRan: Bool?
        let outerRan = try first.withMaintenanceLock {
            innerRan = try second.withMaintenanceLock {}
        }
        #expect(outerRan)
        #expect(innerRan == (backend == .sqlite))
        #expect(try second.withMaintenanceLock {})
    }
}

/// `depotctl migrate-data`'s copy between backends.
@Suite struct MetadataCopyTests {
    /// A SQLite database holding one of everything: files with ties, a workflow, a live reservation,
    /// a resumable upload with a part and binary state, a signed upload link and a pending delete.
    func populated(_ temp: TempDatabase) throws -> SQLMetadataStore {
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        for i in 0..<30 {
            try store.store(makeFile(name: "f\(i)", original: ["b", "A", "_"][i % 3] + "\(i % 7)", size: Int64(i % 5) * 10,
                                     uploadedAt: Fixture.now + Int64(i % 4)))
        }
        try store.store(makeFile(name: "out.csv", size: 99, workflowID: "wf", runID: "r1", direction: .output), workflowName: "Nightly")
        _ = try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 123, objectKey: "reserved-key", ownerPID: 7,
                              ownerStart: "99@host", now: Fixture.now, ttl: 600)
        let upload = ResumableUpload(id: "u1", organizationID: Fixture.org, userID: Fixture.user, reservationID: "res-u1", objectKey: "k-u1",
                                     objectName: "big.bin", originalFilename: "big.bin", contentType: "application/octet-stream",
                                     category: .general, workflowID: nil, runID: nil, direction: nil, workflowName: nil,
                                     metadataHeader: "filename YmlnLmJpbg==", length: 10 << 20, offset: 0, storeUploadID: "mp-1",
                                     keyID: "k1", partsBytes: 0, partCount: 0, stagedKey: nil, hashState: [0, 1, 2, 255, 0x5c],
                                     head: [0x89, 0x50], createdAt: Fixture.now, expiresAt: Fixture.now + 3600, fileID: nil)
        guard case .success = try store.createResumableUpload(upload) else { throw TestFailure("upload refused") }
        _ = try store.lockResumableUpload(id: "u1", owner: "me", now: Fixture.now, until: Fixture.now + 60) { _ in nil }
        _ = try store.recordResumableProgress(id: "u1", owner: "me", progress: ResumableUploadProgress(
            offset: 5 << 20, newParts: [ResumableUploadPart(number: 1, etag: "e1", size: 5 << 20)], stagedKey: "stage-1",
            hashState: [9, 8, 7], head: [0x89, 0x50, 0x4e]), lockUntil: Fixture.now + 60, now: Fixture.now)
        try store.createUploadLink(UploadLink(id: "l1", organizationID: Fixture.org, userID: Fixture.user, category: nil, maxSize: 1000,
                                              secretHash: Array(repeating: 0xab, count: 32), createdAt: Fixture.now, expiresAt: Fixture.now + 60,
                                              usedAt: nil, revokedAt: nil))
        try store.createConsoleLogin(ConsoleLogin(id: "c1", organizationID: Fixture.org, userID: Fixture.user, role: "admin",
                                                  accountType: .organization, tokenLifetime: 900, secretHash: Array(repeating: 0xcd, count: 32),
                                                  createdAt: Fixture.now, expiresAt: Fixture.now + 600, usedAt: nil))
        _ = try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "f0", now: Fixture.now)
        try store.registerBucket("depot", now: Fixture.now)
        return store
    }

    @Test(.enabled(if: PostgreSQLTestServer.url != nil))
    func sqliteToPostgreSQLAndBackKeepsEverything() throws {
        // Every row arrives: counts and totals agree, listings (ties included), usage, uploads and links read the same.
        let sqlite = try TempDatabase(.sqlite), postgresql = try TempDatabase(.postgresql), again = try TempDatabase(.sqlite)
        let source = try populated(sqlite)
        let pgLocation = DatabaseLocation.postgresql(url: PostgreSQLTestServer.url(schema: postgresql.schema), password: PostgreSQLTestServer.password)
        let there = try MetadataStores.copy(from: .sqlite(path: sqlite.path), to: pgLocation, busyTimeoutMilliseconds: 5000)
        #expect(there.source == there.target)
        #expect(there.target.rows["files"] == 30 && there.target.rows["resumable_upload_parts"] == 1 && there.target.rows["upload_links"] == 1)
        let back = try MetadataStores.copy(from: pgLocation, to: .sqlite(path: again.path), busyTimeoutMilliseconds: 5000)
        #expect(back.source == there.source && back.target == there.source)

        let copies = [try postgresql.connect(), try again.connect()]
        for copy in copies {
            for sort in [FileSort.uploadedAt, .size, .originalFilename] {
                let a = try source.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: sort, order: .asc, page: 1, pageSize: 100)
                let b = try copy.listFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: sort, order: .asc, page: 1, pageSize: 100)
                #expect(a.total == b.total && a.files == b.files, "\(sort)")
            }
            #expect(try copy.usage(organizationID: Fixture.org, userID: Fixture.user) == source.usage(organizationID: Fixture.org, userID: Fixture.user))
            #expect(try copy.storageUsage(organizationID: Fixture.org, createdBy: nil) == source.storageUsage(organizationID: Fixture.org, createdBy: nil))
            #expect(try copy.resumableUpload(id: "u1") == source.resumableUpload(id: "u1"))
            #expect(try copy.resumableUploadParts(id: "u1") == source.resumableUploadParts(id: "u1"))
            #expect(try copy.uploadLink(id: "l1") == source.uploadLink(id: "l1"))
            #expect(try copy.consoleLogin(id: "c1") == source.consoleLogin(id: "c1"))
            #expect(try copy.reservations() == source.reservations())
            #expect(try copy.pendingKeys() == source.pendingKeys())
        }
    }

    @Test func everyTableOfTheSchemaIsCopied() throws {
        // A table a migration adds and the copy forgets would be lost by `depotctl migrate-data`.
        let store = try TempDatabase(.sqlite).store()
        let tables = try store.db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") { $0.text(0) }
        let copied = SQLMetadataStore.copiedTables.map(\.name)
        #expect(Set(tables).subtracting(copied).isEmpty)
        #expect(Set(copied).subtracting(tables).isEmpty)
    }

    @Test(.enabled(if: PostgreSQLTestServer.url != nil))
    func copyIntoADatabaseInUseIsRefusedAndChangesNothing() throws {
        // A target that already holds accounts is refused before anything is written.
        let sqlite = try TempDatabase(.sqlite), postgresql = try TempDatabase(.postgresql)
        _ = try populated(sqlite)
        let target = try postgresql.store()
        try target.ensureAccount(organizationID: Fixture.otherOrg, userID: Fixture.user, accountType: nil,
                                 individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        let pgLocation = DatabaseLocation.postgresql(url: PostgreSQLTestServer.url(schema: postgresql.schema), password: PostgreSQLTestServer.password)
        #expect(throws: DatabaseError.self) {
            _ = try MetadataStores.copy(from: .sqlite(path: sqlite.path), to: pgLocation, busyTimeoutMilliseconds: 5000)
        }
        #expect(try target.organizations().map(\.organizationID) == [Fixture.otherOrg])
    }
}

/// PostgreSQL only: the connection's own promises.
@Suite struct PostgreSQLConnectionTests {
    @Test func placeholdersAreNumberedOutsideQuotes() {
        #expect(PostgreSQLPlaceholders.numbered("SELECT ? , '?' , \"a?\" , ?") == "SELECT $1 , '?' , \"a?\" , $2")
        #expect(PostgreSQLPlaceholders.numbered("WHERE a = ?1 OR b = ?1 AND c = 'it''s ?'") == "WHERE a = $1 OR b = $1 AND c = 'it''s ?'")
    }

    func backendPID(_ store: PostgreSQLMetadataStore) throws -> Int64 {
        try store.db.first("SELECT pg_backend_pid()", []) { $0.int(0) } ?? 0
    }

    func terminate(_ pid: Int64) throws {
        try PostgreSQLTestServer.admin().execute("SELECT pg_terminate_backend(\(pid))")
    }

    @Test(.enabled(if: PostgreSQLTestServer.url != nil))
    func lostConnectionIsReopenedByTheNextCall() throws {
        // The server drops the connection between requests: the next call reconnects and succeeds.
        let temp = try TempDatabase(.postgresql)
        let store = try #require(try temp.store() as? PostgreSQLMetadataStore)
        let before = try backendPID(store)
        try terminate(before)
        #expect(try store.plans().count == 3)
        #expect(try backendPID(store) != before)
    }

    @Test(.enabled(if: PostgreSQLTestServer.url != nil))
    func connectionLostInsideATransactionIsUnavailableAndNothingIsHalfDone() throws {
        // Lost mid-transaction: the caller gets `unavailable` (a 503), nothing of the transaction remains, the next call works.
        let temp = try TempDatabase(.postgresql)
        let store = try #require(try temp.store() as? PostgreSQLMetadataStore)
        let pid = try backendPID(store)
        let error = #expect(throws: DatabaseError.self) {
            try store.db.writeTransaction {
                try store.db.run("INSERT INTO buckets (name, created_at) VALUES ('half', 1)")
                try terminate(pid)
                try store.db.run("INSERT INTO buckets (name, created_at) VALUES ('done', 2)")
            }
        }
        if case .unavailable? = error {} else { Issue.record("expected unavailable, got \(String(describing: error))") }
        #expect(try store.buckets().isEmpty)
    }

    @Test(.enabled(if: PostgreSQLTestServer.url != nil))
    func sessionsAreSetUpForShortQueries() throws {
        // Every connection (also after a reconnect) waits for locks no longer than the busy timeout and never JIT-compiles.
        let temp = try TempDatabase(.postgresql)
        let store = try #require(try temp.connect(busyTimeoutMilliseconds: 1234) as? PostgreSQLMetadataStore)
        for round in 0..<2 {
            #expect(try store.db.first("SHOW jit", []) { $0.text(0) } == "off", "round \(round)")
            #expect(try store.db.first("SHOW lock_timeout", []) { $0.text(0) } == "1234ms", "round \(round)")
            try terminate(try backendPID(store))
        }
    }

    @Test(.enabled(if: PostgreSQLTestServer.url != nil))
    func unreachableServerIsUnavailable() throws {
        // Nothing listens: opening fails with `unavailable`, which the API answers with 503.
        let error = #expect(throws: DatabaseError.self) {
            _ = try PostgreSQLMetadataStore(url: "postgresql://depot@127.0.0.1:1/depot", password: "x")
        }
        if case .unavailable? = error {} else { Issue.record("expected unavailable, got \(String(describing: error))") }
    }

    @Test(.enabled(if: PostgreSQLTestServer.url != nil))
    func lockWaitPastTheTimeoutIsBusy() throws {
        // A writer holding an organization's row past the other's lock timeout makes that one `busy`, never wrong.
        let temp = try TempDatabase(.postgresql)
        let holder = try temp.store()
        try holder.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                 individualPlan: "individual", organizationPlan: "tiny", now: Fixture.now)
        let waiter = try temp.connect(busyTimeoutMilliseconds: 200)
        let error = #expect(throws: DatabaseError.self) {
            try holder.db.writeTransaction {
                _ = try holder.db.first("SELECT id FROM organizations WHERE id = ? FOR UPDATE", [.text(Fixture.org)]) { $0.text(0) }
                _ = try waiter.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 10, objectKey: "k", ownerPID: 1,
                                       ownerStart: "s", now: Fixture.now, ttl: 60)
            }
        }
        if case .busy? = error {} else { Issue.record("expected busy, got \(String(describing: error))") }
        #expect(try waiter.quota() == QuotaState(usedBytes: 0, reservedBytes: 0, fileCount: 0, reservedFiles: 0))
    }
}
