import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

/// Shares, shared and organization-wide listings, and the per-member quota,
/// on every backend.
@Suite struct ShareStoreTests {
    static let third = "abababab-abab-4bab-8bab-abababababab"

    /// Keep the database alive as long as the test uses its store.
    final class Setup {
        let database: TempDatabase
        let store: SQLMetadataStore
        init(_ backend: TestBackend) throws {
            database = try TempDatabase(backend)
            store = try database.store()
        }
    }

    func setUp(_ backend: TestBackend) throws -> Setup {
        let setup = try Setup(backend)
        let store = setup.store
        for user in [Fixture.user, Fixture.otherUser, Self.third] {
            try store.ensureAccount(organizationID: Fixture.org, userID: user, accountType: nil, individualPlan: "individual",
                                    organizationPlan: "organization", now: Fixture.now)
        }
        return setup
    }

    func grant(_ store: SQLMetadataStore, _ file: StoredFile, to grantee: String?) throws -> ShareCreation {
        try store.createShare(Share(id: UUIDs.random(), organizationID: file.organizationID, objectKey: file.objectKey, ownerID: file.userID,
                                    granteeUserID: grantee, createdBy: file.userID, createdAt: Fixture.now))
    }

    @Test(arguments: TestBackend.available)
    func sharedListingPagesFromBothEndsInTheOrderAsked(_ backend: TestBackend) throws {
        let setup = try setUp(backend), store = setup.store
        // 7 files of one owner, 4 shared with the caller directly, 1 with the organization, 2 not at all;
        // and one of the caller's own, shared with the organization (never in the caller's `shared` scope).
        var files: [StoredFile] = []
        for i in 0..<7 {
            let f = try store.store(makeFile(user: Fixture.otherUser, name: "f\(i).csv", size: Int64(10 + i), uploadedAt: Fixture.now + Int64(i)))
            files.append(f)
        }
        for f in files[0..<4] { #expect(try grant(store, f, to: Fixture.user) == .created(try store.shares(objectKey: f.objectKey)[0])) }
        _ = try grant(store, files[4], to: nil)
        _ = try grant(store, files[0], to: nil)   // granted both ways: listed once
        _ = try grant(store, files[5], to: Self.third)
        let mine = try store.store(makeFile(name: "mine.csv", size: 5))
        _ = try grant(store, mine, to: nil)

        let expected = files[0..<5].map(\.objectKey)
        var seen: [String] = []
        for page in 1...3 {
            let r = try store.listSharedFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .size, order: .asc,
                                              page: page, pageSize: 2)
            #expect(r.files.count == (page == 3 ? 1 : 2))
            #expect(r.total == 5)
            seen += r.files.map(\.objectKey)
            #expect(r.files.allSatisfy { $0.shared })
        }
        #expect(seen == expected)
        let desc = try store.listSharedFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .uploadedAt,
                                             order: .desc, page: 1, pageSize: 100)
        #expect(desc.files.map(\.objectKey) == expected.reversed())
        for page in 1...5 {
            let one = try store.listSharedFiles(organizationID: Fixture.org, userID: Fixture.user, category: nil, sort: .uploadedAt,
                                                order: .desc, page: page, pageSize: 1)
            #expect(one.total == 5 && one.files.map(\.objectKey) == [expected.reversed()[page - 1]])
        }
        let none = try store.listSharedFiles(organizationID: Fixture.org, userID: Fixture.user, category: .dataSource, sort: .size,
                                             order: .asc, page: 1, pageSize: 10)
        #expect(none.total == 0 && none.files.isEmpty)
        let general = try store.listSharedFiles(organizationID: Fixture.org, userID: Fixture.user, category: .general, sort: .size,
                                                order: .asc, page: 1, pageSize: 10)
        #expect(general.total == 5 && general.files.map(\.objectKey) == expected)
        // The third member sees only the file shared with them and the organization-wide one.
        let third = try store.listSharedFiles(organizationID: Fixture.org, userID: Self.third, category: nil, sort: .size, order: .asc,
                                              page: 1, pageSize: 20)
        #expect(Set(third.files.map(\.objectKey)) == [files[0].objectKey, files[4].objectKey, files[5].objectKey, mine.objectKey])
    }

    @Test(arguments: TestBackend.available)
    func organizationWideSharesPageFromBothEndsWithoutDirectOnes(_ backend: TestBackend) throws {
        let setup = try setUp(backend), store = setup.store
        // 5 files shared with everyone (by three owners), one shared only directly, one not at all; another
        // organization's org-wide share.
        var wide: [StoredFile] = []
        for (i, owner) in [Fixture.user, Fixture.otherUser, Self.third, Fixture.otherUser, Fixture.user].enumerated() {
            let f = try store.store(makeFile(user: owner, name: "w\(i).csv", size: Int64(50 - i), category: i == 2 ? .dataSource : .general,
                                             uploadedAt: Fixture.now + Int64(i)))
            _ = try grant(store, f, to: nil)
            wide.append(f)
        }
        _ = try grant(store, wide[1], to: Fixture.user)   // also granted directly: listed once
        let direct = try store.store(makeFile(name: "direct.csv", size: 7))
        _ = try grant(store, direct, to: Fixture.otherUser)
        try store.store(makeFile(name: "private.csv", size: 8))
        try store.ensureAccount(organizationID: Fixture.otherOrg, userID: Fixture.user, accountType: nil, individualPlan: "individual",
                                organizationPlan: "organization", now: Fixture.now)
        let foreign = try store.store(makeFile(org: Fixture.otherOrg, name: "foreign.csv", size: 9))
        _ = try grant(store, foreign, to: nil)

        func list(_ sort: FileSort, _ order: ListOrder, page: Int, size: Int, category: FileCategory? = nil) throws -> (files: [StoredFile], total: Int64) {
            try store.listOrganizationSharedFiles(organizationID: Fixture.org, category: category, sort: sort, order: order, page: page, pageSize: size)
        }
        // Size ascending is upload order reversed; every page, from either end, in the order asked.
        var seen: [String] = []
        for page in 1...3 {
            let r = try list(.size, .asc, page: page, size: 2)
            #expect(r.total == 5)
            #expect(r.files.allSatisfy { $0.shared })
            seen += r.files.map(\.objectKey)
        }
        #expect(seen == wide.reversed().map(\.objectKey))
        for page in 1...5 {
            #expect(try list(.uploadedAt, .desc, page: page, size: 1).files.map(\.objectKey) == [wide.reversed()[page - 1].objectKey])
        }
        #expect(try list(.originalFilename, .asc, page: 1, size: 100).files.map(\.objectKey) == wide.map(\.objectKey))
        #expect(try list(.size, .asc, page: 4, size: 2).files.isEmpty)
        let data = try list(.uploadedAt, .desc, page: 1, size: 10, category: .dataSource)
        #expect(data.total == 1 && data.files.map(\.objectKey) == [wide[2].objectKey])
        #expect(try list(.uploadedAt, .desc, page: 1, size: 10, category: .profileImage).total == 0)
        // Revoked, it is gone from the list.
        let share = try #require(try store.shares(objectKey: wide[0].objectKey).first)
        #expect(try store.deleteShare(id: share.id))
        #expect(try list(.uploadedAt, .asc, page: 1, size: 10).files.map(\.objectKey) == wide.dropFirst().map(\.objectKey))
    }

    /// The listings' totals come from `share_counts`; after every grant,
    /// revocation, deletion, offboarding and recount they equal a count of
    /// what the listings show, per member and per category.
    @Test(arguments: TestBackend.available)
    func sharedTotalsFollowEveryGrantRevocationAndDeletion(_ backend: TestBackend) throws {
        let setup = try setUp(backend), store = setup.store
        let members = [Fixture.user, Fixture.otherUser, Self.third]
        var random = SplitMix64(state: 7)
        var files: [StoredFile] = []
        var made = 0
        func makeOne() throws {
            let owner = members[Int.random(in: 0..<members.count, using: &random)]
            made += 1
            files.append(try store.store(makeFile(user: owner, name: "f\(made).csv", size: Int64(made),
                                                  category: made % 3 == 0 ? .dataSource : .general, uploadedAt: Fixture.now + Int64(made))))
        }
        func check(_ step: String) throws {
            for member in members {
                for category in [nil, FileCategory.general, .dataSource] {
                    let listed = try store.listSharedFiles(organizationID: Fixture.org, userID: member, category: category, sort: .size,
                                                           order: .asc, page: 1, pageSize: 1000)
                    #expect(listed.total == Int64(listed.files.count), "\(step): \(member) \(String(describing: category))")
                }
            }
            let wide = try store.listOrganizationSharedFiles(organizationID: Fixture.org, category: nil, sort: .size, order: .asc,
                                                             page: 1, pageSize: 1000)
            #expect(wide.total == Int64(wide.files.count), "\(step): organization-wide")
        }
        for _ in 0..<12 { try makeOne() }
        for step in 0..<150 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let f = files[Int.random(in: 0..<files.count, using: &random)]
                let grantee = Int.random(in: 0..<3, using: &random) == 0 ? nil : members.filter { $0 != f.userID }[Int.random(in: 0..<2, using: &random)]
                _ = try grant(store, f, to: grantee)
            case 5..<8:
                let f = files[Int.random(in: 0..<files.count, using: &random)]
                if let share = try store.shares(objectKey: f.objectKey).first { #expect(try store.deleteShare(id: share.id)) }
            case 8:
                let f = files.remove(at: Int.random(in: 0..<files.count, using: &random))
                #expect(try store.deleteFile(organizationID: Fixture.org, userID: f.userID, objectName: f.objectName, now: Fixture.now) != nil)
                try makeOne()
            default:
                let picked = (0..<3).map { _ in files[Int.random(in: 0..<files.count, using: &random)] }.filter { $0.userID == Fixture.user }
                let removed = try store.deleteFiles(organizationID: Fixture.org, picked.map { FileTarget(key: $0.objectKey, ownerID: $0.userID) },
                                                    now: Fixture.now)
                files.removeAll { f in removed.contains { $0.objectKey == f.objectKey } }
                for _ in removed { try makeOne() }
            }
            try check("step \(step)")
        }
        let before = try store.db.all("SELECT user_id, category, grants, own_org_grants, double_grants FROM share_counts ORDER BY user_id, category") {
            [$0.text(0), $0.text(1), "\($0.int(2))", "\($0.int(3))", "\($0.int(4))"]
        }.filter { $0[2...] != ["0", "0", "0"] }
        try store.recalculate(organizationID: Fixture.org)
        let recounted = try store.db.all("SELECT user_id, category, grants, own_org_grants, double_grants FROM share_counts ORDER BY user_id, category") {
            [$0.text(0), $0.text(1), "\($0.int(2))", "\($0.int(3))", "\($0.int(4))"]
        }
        #expect(before == recounted)
        #expect(try store.offboard(.user(organizationID: Fixture.org, userID: Fixture.otherUser), now: Fixture.now) != nil)
        try check("after offboarding")
    }

    /// The migration that brought `share_counts` counted the shares an
    /// installation already had.
    @Test(arguments: TestBackend.available)
    func theCountersMigrationCountsExistingShares(_ backend: TestBackend) throws {
        let temp = try TempDatabase(backend)
        let current = try temp.connect()
        let all = backend == .sqlite ? SQLiteMigrations.all : PostgreSQLMigrations.all
        let older = SQLMetadataStore(db: current.db, migrations: Array(all.dropLast()))
        try older.migrate()
        try older.seedPlans([.individual, .organization])
        for user in [Fixture.user, Fixture.otherUser, Self.third] {
            try older.ensureAccount(organizationID: Fixture.org, userID: user, accountType: nil, individualPlan: "individual",
                                    organizationPlan: "organization", now: Fixture.now)
        }
        let mine = try older.store(makeFile(name: "mine.csv", size: 1))
        let theirs = try older.store(makeFile(user: Fixture.otherUser, name: "theirs.csv", size: 2, category: .dataSource))
        for (i, (f, grantee)) in [(mine, ""), (mine, Fixture.otherUser), (theirs, ""), (theirs, Fixture.user), (theirs, Self.third)].enumerated() {
            try older.db.run("""
                INSERT INTO shares (id, organization_id, object_key, owner_id, grantee_id, created_by, created_at, uploaded_at, size,
                    original_filename, category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text("s\(i)"), .text(Fixture.org), .text(f.objectKey), .text(f.userID), .text(grantee), .text(f.userID),
                      .int(Fixture.now), .int(f.uploadedAt), .int(f.size), .text(f.originalFilename), .text(f.category.rawValue)])
        }
        #expect(try current.migrate().to == all.count)
        for (member, expected) in [(Fixture.user, [theirs]), (Fixture.otherUser, [mine]), (Self.third, [mine, theirs])] {
            let listed = try current.listSharedFiles(organizationID: Fixture.org, userID: member, category: nil, sort: .size, order: .asc,
                                                     page: 1, pageSize: 10)
            #expect(listed.total == Int64(expected.count) && listed.files.map(\.objectKey) == expected.map(\.objectKey))
        }
        #expect(try current.listOrganizationSharedFiles(organizationID: Fixture.org, category: .dataSource, sort: .size, order: .asc,
                                                        page: 1, pageSize: 10).total == 1)
    }

    @Test(arguments: TestBackend.available)
    func organizationListingCountsEveryMembersFiles(_ backend: TestBackend) throws {
        let setup = try setUp(backend), store = setup.store
        try store.store(makeFile(name: "a.csv", size: 3, category: .dataSource))
        try store.store(makeFile(user: Fixture.otherUser, name: "b.csv", size: 1))
        try store.store(makeFile(user: Self.third, name: "c.csv", size: 2))
        let all = try store.listOrganizationFiles(organizationID: Fixture.org, category: nil, sort: .size, order: .desc, page: 1, pageSize: 2)
        #expect(all.total == 3)
        #expect(all.files.map(\.size) == [3, 2])
        let last = try store.listOrganizationFiles(organizationID: Fixture.org, category: nil, sort: .size, order: .desc, page: 2, pageSize: 2)
        #expect(last.files.map(\.size) == [1])
        let data = try store.listOrganizationFiles(organizationID: Fixture.org, category: .dataSource, sort: .size, order: .desc, page: 1, pageSize: 2)
        #expect(data.total == 1 && data.files.map(\.objectName) == ["a.csv"])
    }

    @Test(arguments: TestBackend.available)
    func aGrantNeedsAMemberAndALiveFileAndDiesWithTheFile(_ backend: TestBackend) throws {
        let setup = try setUp(backend), store = setup.store
        let f = try store.store(makeFile(name: "x.csv", size: 4))
        #expect(try grant(store, f, to: "cdcdcdcd-cdcd-4dcd-8dcd-cdcdcdcdcdcd") == .unknownGrantee)
        guard case .created(let share) = try grant(store, f, to: Fixture.otherUser) else { Issue.record("not created"); return }
        #expect(try grant(store, f, to: Fixture.otherUser) == .existing(share))
        #expect(try store.fileShared(key: f.objectKey, organizationID: Fixture.org, userID: Fixture.otherUser)?.id == f.id)
        #expect(try store.fileShared(key: f.objectKey, organizationID: Fixture.org, userID: Self.third) == nil)
        #expect(try store.fileShared(key: f.objectKey, organizationID: Fixture.otherOrg, userID: Fixture.otherUser) == nil)
        #expect(try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "x.csv", now: Fixture.now) != nil)
        #expect(try store.share(id: share.id) == nil)
        #expect(try grant(store, f, to: Fixture.otherUser) == .noFile)
    }

    @Test(arguments: TestBackend.available)
    func memberQuotaCountsFilesAndLiveReservations(_ backend: TestBackend) throws {
        let setup = try setUp(backend), store = setup.store
        var plan = Plan.organization
        plan.memberQuotaBytes = 100
        try store.upsertPlan(plan, now: Fixture.now)
        #expect(try store.plan(named: "organization")?.memberQuotaBytes == 100)
        try store.store(makeFile(name: "a.csv", size: 60))
        let held = try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 30, objectKey: "k-held", ownerPID: 1,
                                     ownerStart: "s", now: Fixture.now, ttl: 60)
        guard case .success = held else { Issue.record("refused: \(held)"); return }
        let over = try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 11, objectKey: "k-over", ownerPID: 1,
                                     ownerStart: "s", now: Fixture.now, ttl: 60)
        #expect(over == .failure(.memberQuotaExceeded(available: 10)))
        let other = try store.reserve(organizationID: Fixture.org, userID: Fixture.otherUser, bytes: 100, objectKey: "k-other", ownerPID: 1,
                                      ownerStart: "s", now: Fixture.now, ttl: 60)
        guard case .success = other else { Issue.record("another member refused: \(other)"); return }
        plan.memberQuotaBytes = nil
        try store.upsertPlan(plan, now: Fixture.now)
        #expect(try store.plan(named: "organization")?.memberQuotaBytes == nil)
    }
}

