import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

@Suite struct SQLiteConnectionTests {
    /// Two connections on one migrated file, as two worker processes would hold them.
    func pair(_ temp: TempDatabase, busyA: Int32 = 5000, busyB: Int32 = 5000) throws -> (SQLiteConnection, SQLiteConnection) {
        _ = try temp.store()
        let a = try SQLiteConnection(path: temp.path, busyTimeoutMilliseconds: busyA)
        let b = try SQLiteConnection(path: temp.path, busyTimeoutMilliseconds: busyB)
        try a.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, who TEXT NOT NULL)")
        return (a, b)
    }

    func count(_ c: SQLiteConnection) throws -> Int64 { try c.first("SELECT COUNT(*) FROM t") { $0.int(0) } ?? -1 }

    @Test func writerBlockedPastItsBusyTimeoutGetsBusy() throws {
        // While one connection holds the write lock, another with a short busy timeout gets .busy, not a hang or a corrupt write.
        let temp = try TempDatabase()
        let (a, b) = try pair(temp, busyB: 50)
        try a.execute("BEGIN IMMEDIATE")
        try a.run("INSERT INTO t (who) VALUES ('a')")
        let started = Date()
        let error = #expect(throws: DatabaseError.self) {
            try b.writeTransaction { try b.run("INSERT INTO t (who) VALUES ('b')") }
        }
        if case .busy? = error {} else { Issue.record("expected busy, got \(String(describing: error))") }
        #expect(Date().timeIntervalSince(started) >= 0.04)
        try a.execute("COMMIT")
        // The refused write left no transaction open: b can write now.
        try b.writeTransaction { try b.run("INSERT INTO t (who) VALUES ('b')") }
        #expect(try count(a) == 2 && count(b) == 2)
    }

    @Test func readerSeesOnlyCommittedRowsWhileAWriteIsOpen() throws {
        // In WAL mode a reader is never blocked by a writer and never sees its uncommitted rows.
        let temp = try TempDatabase()
        let (a, b) = try pair(temp)
        try a.run("INSERT INTO t (who) VALUES ('before')")
        try a.execute("BEGIN IMMEDIATE")
        try a.run("INSERT INTO t (who) VALUES ('uncommitted')")
        #expect(try count(b) == 1)
        try a.execute("COMMIT")
        #expect(try count(b) == 2)
    }

    @Test func blockedWriterWaitsAndThenSucceeds() throws {
        // A writer that finds the lock taken waits within its busy timeout and commits after the holder does.
        let temp = try TempDatabase()
        let (a, b) = try pair(temp)
        try a.execute("BEGIN IMMEDIATE")
        try a.run("INSERT INTO t (who) VALUES ('a')")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Int64, Error>?
        nonisolated(unsafe) let writer = b
        Thread.detachNewThread {
            outcome = Result {
                try writer.writeTransaction {
                    try writer.run("INSERT INTO t (who) VALUES ('b')")
                    return try writer.first("SELECT COUNT(*) FROM t") { $0.int(0) } ?? -1
                }
            }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(outcome == nil, "the second writer must wait for the lock")
        try a.execute("COMMIT")
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(try outcome?.get() == 2, "b saw a's committed row inside its own transaction")
        #expect(try a.all("SELECT who FROM t ORDER BY id") { $0.text(0) } == ["a", "b"])
    }

    @Test func interleavedWritesFromTwoConnectionsAllLand() throws {
        // Two connections writing in turns from two threads lose no write and see each other's rows.
        let temp = try TempDatabase()
        let (a, b) = try pair(temp)
        let group = DispatchGroup()
        nonisolated(unsafe) var failures: [String] = []
        let lock = NSLock()
        for (name, connection) in [("a", a), ("b", b)] {
            nonisolated(unsafe) let c = connection
            group.enter()
            Thread.detachNewThread {
                for i in 0..<100 {
                    do {
                        try c.writeTransaction {
                            let before = try c.first("SELECT COUNT(*) FROM t") { $0.int(0) } ?? 0
                            try c.run("INSERT INTO t (who) VALUES (?)", [.text("\(name)\(i)")])
                            let after = try c.first("SELECT COUNT(*) FROM t") { $0.int(0) } ?? 0
                            if after != before + 1 { throw DatabaseError.failed("lost update") }
                        }
                    } catch {
                        lock.lock(); failures.append("\(name)\(i): \(error)"); lock.unlock()
                    }
                }
                group.leave()
            }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(try count(a) == 200 && count(b) == 200)
    }

    @Test func racingReservationsNeverBothTakeTheLastBytes() throws {
        // Two workers reserving 600 of the 1000 free bytes at the same moment: exactly one wins, every time.
        for round in 0..<20 {
            let temp = try TempDatabase()
            let setup = try temp.store()
            try setup.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                    individualPlan: "individual", organizationPlan: "tiny", now: Fixture.now)
            let stores = [try SQLiteMetadataStore(path: temp.path), try SQLiteMetadataStore(path: temp.path)]
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            let lock = NSLock()
            nonisolated(unsafe) var results: [Result<Result<String, QuotaRefusal>, Error>] = []
            for s in stores {
                nonisolated(unsafe) let store = s
                group.enter()
                Thread.detachNewThread {
                    start.wait()
                    let r = Result {
                        try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 600, objectKey: UUID().uuidString,
                                          ownerPID: 1, ownerStart: "s", now: Fixture.now, ttl: 60)
                    }
                    lock.lock(); results.append(r); lock.unlock()
                    group.leave()
                }
            }
            start.signal(); start.signal()
            #expect(group.wait(timeout: .now() + 30) == .success)
            let outcomes = results.compactMap { try? $0.get() }
            #expect(outcomes.count == 2, "round \(round): \(results)")
            #expect(outcomes.filter { if case .success = $0 { return true } else { return false } }.count == 1, "round \(round)")
            #expect(outcomes.contains(.failure(.quotaExceeded(available: 400))), "round \(round)")
            #expect(try setup.quota() == QuotaState(usedBytes: 0, reservedBytes: 600, fileCount: 0, reservedFiles: 1), "round \(round)")
        }
    }

    @Test func failedWriteTransactionRollsBack() throws {
        // An error inside a write transaction undoes everything it wrote.
        let temp = try TempDatabase()
        let (a, _) = try pair(temp)
        #expect(throws: TestFailure.self) {
            try a.writeTransaction {
                try a.run("INSERT INTO t (who) VALUES ('doomed')")
                throw TestFailure("stop")
            }
        }
        #expect(try count(a) == 0)
        try a.writeTransaction { try a.run("INSERT INTO t (who) VALUES ('fine')") }
        #expect(try count(a) == 1)
    }

    @Test func constraintViolationIsAFailureNotBusy() throws {
        // A failing statement surfaces as DatabaseError; constraint failures are .failed, not .busy or .unavailable.
        let temp = try TempDatabase()
        let (a, _) = try pair(temp)
        try a.run("INSERT INTO t (id, who) VALUES (1, 'x')")
        let error = #expect(throws: DatabaseError.self) { try a.run("INSERT INTO t (id, who) VALUES (1, 'y')") }
        if case .failed? = error {} else { Issue.record("expected failed, got \(String(describing: error))") }
    }

    @Test func openingAnUnreachablePathIsUnavailable() throws {
        // A database path in a missing directory is reported as unavailable.
        let error = #expect(throws: DatabaseError.self) {
            _ = try SQLiteConnection(path: "/nonexistent-\(UUID().uuidString)/depot.sqlite3")
        }
        if case .unavailable? = error {} else { Issue.record("expected unavailable, got \(String(describing: error))") }
    }

    @Test func backupCopiesTheWholeDatabase() throws {
        // An online backup is a complete, openable copy.
        let temp = try TempDatabase()
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        let copy = temp.directory.appendingPathComponent("backup.sqlite3").path
        try #require(store as? SQLiteMetadataStore).sqlite.backup(to: copy)
        let restored = try SQLiteMetadataStore(path: copy)
        #expect(try restored.schemaVersion() == SQLiteMetadataStore.supportedSchemaVersion)
        #expect(try restored.account(organizationID: Fixture.org)?.plan == .organization)
    }
}
