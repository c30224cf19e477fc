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
