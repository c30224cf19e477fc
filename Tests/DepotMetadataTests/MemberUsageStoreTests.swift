import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

/// Usage per member (the admins' `/storage/members`) from the counters and
/// the reservations, on every backend.
@Suite struct MemberUsageStoreTests {
    static let third = "abababab-abab-4bab-8bab-abababababab"

    /// Keep the database alive as long as the test uses its store.
    final class Setup {
        let database: TempDatabase
        let store: SQLMetadataStore
        init(_ backend: TestBackend) throws {
            database = try TempDatabase(backend)
            store = try database.store()
            for org in [Fixture.org, Fixture.otherOrg] {
                try store.ensureAccount(organizationID: org, userID: Fixture.user, accountType: nil, individualPlan: "individual",
                                        organizationPlan: "organization", now: Fixture.now)
            }
        }
    }

    func reserve(_ store: SQLMetadataStore, user: String, bytes: Int64, key: String) throws -> String {
        let r = try store.reserve(organizationID: Fixture.org, userID: user, bytes: bytes, objectKey: key, ownerPID: 1, ownerStart: "boot",
                                  now: Fixture.now, ttl: 60)
        guard case .success(let id) = r else { throw TestFailure("refused: \(r)") }
        return id
    }

    @Test(arguments: TestBackend.available)
    func membersAreSummedOverCategoriesAndWorkflowsWithTheirReservations(_ backend: TestBackend) throws {
        let setup = try Setup(backend), store = setup.store
        try store.store(makeFile(name: "a.csv", size: 30, category: .dataSource))
        try store.store(makeFile(name: "b.csv", size: 12))
        try store.store(makeFile(name: "w.csv", size: 8, workflowID: "wf", runID: "r1", direction: .output))
        try store.store(makeFile(user: Fixture.otherUser, name: "c.csv", size: 100))
        _ = try reserve(store, user: Fixture.user, bytes: 5, key: "k1")
        _ = try reserve(store, user: Fixture.user, bytes: 6, key: "k2")
        let held = try reserve(store, user: Self.third, bytes: 9, key: "k3")
        // A member whose files are all deleted holds nothing (their counter rows stay, at zero).
        let gone = "cdcdcdcd-cdcd-4dcd-8dcd-cdcdcdcdcdcd"
        try store.store(makeFile(user: gone, name: "d.csv", size: 4))
        #expect(try store.deleteFile(organizationID: Fixture.org, userID: gone, objectName: "d.csv", now: Fixture.now) != nil)
        // Another organization's member, with the same user id.
        try store.store(makeFile(org: Fixture.otherOrg, user: Fixture.otherUser, name: "x.csv", size: 500))

        let report = try store.memberUsage(organizationID: Fixture.org)
        #expect(report == MemberUsageReport(members: [
            MemberUsage(userID: Fixture.otherUser, usedBytes: 100, fileCount: 1, reservedBytes: 0),
            MemberUsage(userID: Fixture.user, usedBytes: 50, fileCount: 3, reservedBytes: 11),
            MemberUsage(userID: Self.third, usedBytes: 0, fileCount: 0, reservedBytes: 9),
        ], truncated: false))
        // A released reservation leaves the list with it.
        try store.releaseReservation(id: held, now: Fixture.now, reason: "test")
        #expect(try store.memberUsage(organizationID: Fixture.org).members.map(\.userID) == [Fixture.otherUser, Fixture.user])
        #expect(try store.memberUsage(organizationID: Fixture.otherOrg).members
            == [MemberUsage(userID: Fixture.otherUser, usedBytes: 500, fileCount: 1, reservedBytes: 0)])
        #expect(try store.memberUsage(organizationID: "00000000-0000-4000-8000-000000000000") == MemberUsageReport(members: [], truncated: false))
    }

    @Test(arguments: TestBackend.available)
    func aHundredMembersAtMostLargestFirstThenById(_ backend: TestBackend) throws {
        let setup = try Setup(backend), store = setup.store
        // 101 members' counters, written directly (the listing reads nothing else).
        func user(_ i: Int) -> String { String(format: "00000000-0000-4000-8000-%012d", i) }
        func insert(_ range: Range<Int>) throws {
            try store.db.writeTransaction {
                for i in range {
                    try store.db.run("""
                        INSERT INTO usage_counters (organization_id, user_id, category, workflow_id, direction, bytes, files)
                        VALUES (?, ?, 'general', '', '', ?, 1)
                        """, [.text(Fixture.org), .text(user(i)), .int(Int64(i % 10))])
                }
            }
        }
        try insert(0..<100)
        let full = try store.memberUsage(organizationID: Fixture.org)
        #expect(full.members.count == 100 && !full.truncated)
        try insert(100..<101)
        let cut = try store.memberUsage(organizationID: Fixture.org)
        #expect(cut.members.count == 100 && cut.truncated)
        // Bytes 9 first (users 9, 19, …, 99), ties by id; user 100 (0 bytes, the last of the zeros) is left out.
        #expect(cut.members.prefix(3).map(\.userID) == [user(9), user(19), user(29)])
        #expect(cut.members.map(\.usedBytes) == cut.members.map(\.usedBytes).sorted(by: >))
        #expect(!cut.members.map(\.userID).contains(user(100)))
    }
}
