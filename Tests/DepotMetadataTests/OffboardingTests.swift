import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

@Suite struct OffboardingTests {
    /// An organization (on the roomy plan) where the user has two files, a
    /// share each way, a download link, an upload link, a resumable upload
    /// with a staging object and an upload in flight; the other member one file.
    private func populated(_ temp: TempDatabase) throws -> (store: SQLMetadataStore, mine: [StoredFile], theirs: StoredFile) {
        let store = try temp.store()
        for user in [Fixture.user, Fixture.otherUser] {
            try store.ensureAccount(organizationID: Fixture.org, userID: user, accountType: nil,
                                    individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        }
        let mine = [try store.store(makeFile(name: "a.bin", size: 100)), try store.store(makeFile(name: "b.csv", size: 50, category: .dataSource))]
        let theirs = try store.store(makeFile(user: Fixture.otherUser, name: "c.bin", size: 7))
        for (id, key, owner, grantee) in [("s1", mine[0].objectKey, Fixture.user, Fixture.otherUser), ("s2", theirs.objectKey, Fixture.otherUser, Fixture.user)] {
            let made = try store.createShare(Share(id: id, organizationID: Fixture.org, objectKey: key, ownerID: owner, granteeUserID: grantee,
                                                   createdBy: owner, createdAt: Fixture.now))
            guard case .created = made else { throw TestFailure("share not created: \(made)") }
        }
        _ = try store.createDownloadLink(DownloadLink(id: UUIDs.random(), organizationID: Fixture.org, userID: Fixture.user,
                                                      objectKey: mine[0].objectKey, disposition: .inline, signatureDigest: "dl",
                                                      createdAt: Fixture.now, expiresAt: Fixture.now + 60))
        try store.createUploadLink(UploadLink(id: "ul", organizationID: Fixture.org, userID: Fixture.user, category: nil, maxSize: 10,
                                              secretHash: [1], createdAt: Fixture.now, expiresAt: Fixture.now + 60, usedAt: nil, revokedAt: nil))
        let upload = ResumableUpload(id: "u1", organizationID: Fixture.org, userID: Fixture.user, reservationID: "res-u1", objectKey: "k-u1",
                                     objectName: "big.bin", originalFilename: "big.bin", contentType: "application/octet-stream",
                                     category: .general, workflowID: nil, runID: nil, direction: nil, workflowName: nil,
                                     metadataHeader: "filename YmlnLmJpbg==", length: 1000, offset: 0, storeUploadID: "mp-1",
                                     keyID: "k1", partsBytes: 0, partCount: 0, stagedKey: nil, hashState: [0], head: [],
                                     createdAt: Fixture.now, expiresAt: Fixture.now + 3600, fileID: nil)
        guard case .success = try store.createResumableUpload(upload) else { throw TestFailure("upload refused") }
        _ = try store.lockResumableUpload(id: "u1", owner: "me", now: Fixture.now, until: Fixture.now + 60) { _ in nil }
        _ = try store.recordResumableProgress(id: "u1", owner: "me", progress: ResumableUploadProgress(
            offset: 10, newParts: [], stagedKey: "stage-1", hashState: [1], head: []), lockUntil: Fixture.now + 60, now: Fixture.now)
        _ = try store.reserve(organizationID: Fixture.org, userID: Fixture.user, bytes: 30, objectKey: "in-flight", ownerPID: 7,
                              ownerStart: "boot", now: Fixture.now, ttl: 600)
        return (store, mine, theirs)
    }

    @Test(arguments: TestBackend.available) func dryRunCountsAndChangesNothing(_ backend: TestBackend) throws {
        // The inventory names every row and object a user delete would take, and leaves them all in place.
        let temp = try TempDatabase(backend)
        let (store, mine, _) = try populated(temp)
        let before = try store.quota()
        let report = try #require(try store.offboardingInventory(.user(organizationID: Fixture.org, userID: Fixture.user), now: Fixture.now))
        #expect((report.files, report.bytes, report.shares, report.downloadLinks, report.uploadLinks) == (2, 150, 2, 1, 1))
        #expect((report.resumableUploads, report.reservations, report.reservedBytes, report.users) == (1, 2, 1030, 1))
        #expect(Set(report.queuedDeletes.map(\.key)) == Set(mine.map(\.objectKey) + ["k-u1", "stage-1", "in-flight"]))
        #expect(report.queuedDeletes.first { $0.key == "k-u1" }?.uploadID == "mp-1")
        #expect(try store.quota() == before)
        #expect(try store.file(key: mine[0].objectKey) != nil)
        #expect(try store.isDownloadLinkLive(signatureDigest: "dl", now: Fixture.now))
        #expect(try store.pendingDeletes().filter { $0.reason == "user deleted" }.isEmpty)
        #expect(try store.offboardingInventory(.user(organizationID: Fixture.org, userID: UUIDs.random()), now: Fixture.now) == nil)
    }

    @Test(arguments: TestBackend.available) func userDeleteTakesTheirRowsAndFreesExactlyTheirQuota(_ backend: TestBackend) throws {
        // After the delete: the user's records, shares, links, uploads and reservations are gone, every object is
        // queued, the organization holds exactly the other member's bytes, and recalculating changes nothing.
        let temp = try TempDatabase(backend)
        let (store, mine, theirs) = try populated(temp)
        let dry = try store.offboardingInventory(.user(organizationID: Fixture.org, userID: Fixture.user), now: Fixture.now)
        let report = try #require(try store.offboard(.user(organizationID: Fixture.org, userID: Fixture.user), now: Fixture.now))
        #expect(report == dry)
        #expect(try store.quota() == QuotaState(usedBytes: 7, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
        for f in mine { #expect(try store.file(key: f.objectKey) == nil) }
        #expect(try store.file(key: theirs.objectKey) == theirs)
        #expect(try store.users(organizationID: Fixture.org) == [Fixture.otherUser])
        #expect(try store.resumableUploads(organizationID: Fixture.org).isEmpty && store.reservations().isEmpty)
        #expect(try store.uploadLink(id: "ul") == nil)
        #expect(try store.db.first("SELECT COUNT(*) FROM shares") { $0.int(0) } == 0)
        #expect(try store.pendingKeys() == (mine.map(\.objectKey) + ["k-u1", "stage-1", "in-flight"]).sorted())
        let usage = try #require(try store.usage(organizationID: Fixture.org, userID: Fixture.user))
        #expect(usage.userUsedBytes == 0 && usage.usedBytes == 7 && usage.byCategory[.dataSource] == CategoryUsage(bytes: 0, files: 0))
        try store.recalculate(organizationID: Fixture.org)
        #expect(try store.quota() == QuotaState(usedBytes: 7, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
        #expect(try store.offboard(.user(organizationID: Fixture.org, userID: Fixture.user), now: Fixture.now) == nil)
    }

    @Test(arguments: TestBackend.available) func organizationDeleteLeavesNothingOfIt(_ backend: TestBackend) throws {
        // Every row of the organization goes, the organization too; another organization is untouched.
        let temp = try TempDatabase(backend)
        let (store, _, _) = try populated(temp)
        try store.ensureAccount(organizationID: Fixture.otherOrg, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        let outsider = try store.store(makeFile(org: Fixture.otherOrg, name: "x.bin", size: 5))
        let report = try #require(try store.offboard(.organization(id: Fixture.org), now: Fixture.now))
        #expect((report.files, report.bytes, report.shares, report.users, report.reservations) == (3, 157, 2, 2, 2))
        #expect(try store.account(organizationID: Fixture.org) == nil)
        #expect(try store.allFileKeys(organizationID: Fixture.org).isEmpty)
        #expect(try store.file(key: outsider.objectKey) != nil)
        #expect(try store.quota(Fixture.otherOrg) == QuotaState(usedBytes: 5, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
        #expect(try store.db.first("SELECT COUNT(*) FROM usage_counters WHERE organization_id = ?", [.text(Fixture.org)]) { $0.int(0) } == 0)
        #expect(try store.offboardingInventory(.organization(id: Fixture.org), now: Fixture.now) == nil)
    }

    @Test(arguments: TestBackend.available) func fileRemovalIsTheOwnersDeleteWithItsShares(_ backend: TestBackend) throws {
        // One file by key: record, shares and links gone, its bytes freed, its object queued; the rest stays.
        let temp = try TempDatabase(backend)
        let (store, mine, _) = try populated(temp)
        let report = try #require(try store.offboard(.file(objectKey: mine[0].objectKey), now: Fixture.now))
        #expect((report.files, report.bytes, report.shares, report.downloadLinks) == (1, 100, 1, 1))
        #expect(report.queuedDeletes.map(\.key) == [mine[0].objectKey])
        #expect(try store.quota()?.usedBytes == 57)
        #expect(try store.file(key: mine[1].objectKey) != nil)
        #expect(try store.db.first("SELECT COUNT(*) FROM shares") { $0.int(0) } == 1)
        #expect(try store.offboard(.file(objectKey: mine[0].objectKey), now: Fixture.now) == nil)
    }
}
