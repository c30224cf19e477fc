import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

/// The console's name search, in each listing scope, on every backend.
@Suite struct FileSearchStoreTests {
    final class Setup {
        let database: TempDatabase
        let store: SQLMetadataStore
        init(_ backend: TestBackend) throws {
            database = try TempDatabase(backend)
            store = try database.store()
            for user in [Fixture.user, Fixture.otherUser] {
                try store.ensureAccount(organizationID: Fixture.org, userID: user, accountType: nil, individualPlan: "individual",
                                        organizationPlan: "organization", now: Fixture.now)
            }
        }
    }

    func search(_ store: SQLMetadataStore, _ scope: FileScope, _ text: String, user: String = Fixture.user,
                sort: FileSort = .originalFilename, page: Int = 1, pageSize: Int = 20) throws -> (names: [String], total: Int64) {
        let r = try store.searchFiles(FileSearch(scope: scope, organizationID: Fixture.org, userID: user, nameContains: text,
                                                 sort: sort, order: .asc, page: page, pageSize: pageSize))
        return (r.files.map(\.originalFilename), r.total)
    }

    @Test(arguments: TestBackend.available)
    func matchesPartOfTheNameWhateverItsCaseAndNothingElse(_ backend: TestBackend) throws {
        let setup = try Setup(backend), store = setup.store
        for (i, name) in ["Report 2026.pdf", "annual-REPORT.csv", "photo.png", "100%_done.txt", "a_b.txt", "ab.txt"].enumerated() {
            _ = try store.store(makeFile(name: "f\(i)", original: name, size: 10))
        }
        _ = try store.store(makeFile(user: Fixture.otherUser, name: "theirs", original: "report of theirs.pdf", size: 10))

        #expect(try search(store, .own, "report") == (["Report 2026.pdf", "annual-REPORT.csv"].sorted(), 2))
        #expect(try search(store, .own, "REPORT").total == 2)
        // LIKE's wildcards are searched for as themselves.
        #expect(try search(store, .own, "%").names == ["100%_done.txt"])
        #expect(try search(store, .own, "a_b").names == ["a_b.txt"])
        #expect(try search(store, .own, "zzz") == ([], 0))
        // The organization scope sees every member's files.
        #expect(try search(store, .organization, "report").total == 3)
    }

    @Test(arguments: TestBackend.available)
    func sharedScopeFindsOnlyWhatWasSharedWithTheCaller(_ backend: TestBackend) throws {
        let setup = try Setup(backend), store = setup.store
        let direct = try store.store(makeFile(user: Fixture.otherUser, name: "d", original: "plan direct.txt", size: 1))
        let everyone = try store.store(makeFile(user: Fixture.otherUser, name: "e", original: "plan everyone.txt", size: 1))
        _ = try store.store(makeFile(user: Fixture.otherUser, name: "p", original: "plan private.txt", size: 1))
        let mine = try store.store(makeFile(name: "m", original: "plan mine.txt", size: 1))
        for (file, grantee) in [(direct, Optional(Fixture.user)), (everyone, nil), (mine, nil)] {
            _ = try store.createShare(Share(id: UUIDs.random(), organizationID: Fixture.org, objectKey: file.objectKey, ownerID: file.userID,
                                            granteeUserID: grantee, createdBy: file.userID, createdAt: Fixture.now))
        }
        #expect(try search(store, .shared, "plan") == (["plan direct.txt", "plan everyone.txt"], 2))
        // An admin's search among the files shared with the whole organization.
        let everyoneOnly = try store.searchFiles(FileSearch(scope: .organization, organizationID: Fixture.org, userID: Fixture.user,
                                                            nameContains: "PLAN", sharedWithOrganizationOnly: true,
                                                            sort: .originalFilename, order: .asc))
        #expect(everyoneOnly.files.map(\.originalFilename) == ["plan everyone.txt", "plan mine.txt"])
        #expect(everyoneOnly.total == 2)
    }

    @Test(arguments: TestBackend.available)
    func pagesThroughTheMatchesFromBothEnds(_ backend: TestBackend) throws {
        let setup = try Setup(backend), store = setup.store
        for i in 0..<7 { _ = try store.store(makeFile(name: "n\(i)", original: "log-\(i).txt", size: Int64(i + 1))) }
        _ = try store.store(makeFile(name: "other", original: "other.txt", size: 100))
        var seen: [String] = []
        for page in 1...4 {
            let r = try search(store, .own, "LOG", sort: .size, page: page, pageSize: 2)
            #expect(r.total == 7)
            seen += r.names
        }
        #expect(seen == (0..<7).map { "log-\($0).txt" })
    }
}
