import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

@Suite struct DownloadLinkStoreTests {
    private func link(user: String = Fixture.user, key: String = "organizations/\(Fixture.org)/files/\(Fixture.user)/a.bin",
                      digest: String = UUID().uuidString, createdAt: Int64 = Fixture.now, expiresAt: Int64 = Fixture.now + 3600) -> DownloadLink {
        DownloadLink(id: UUIDs.random(), organizationID: Fixture.org, userID: user, objectKey: key, disposition: .attachment,
                     signatureDigest: digest, createdAt: createdAt, expiresAt: expiresAt)
    }

    @Test(arguments: TestBackend.available) func recordedLinkIsLiveUntilItExpires(_ backend: TestBackend) throws {
        // A recorded digest is live up to and including its expiry second; an unknown one never is.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        let l = link(digest: "d1")
        #expect(try store.createDownloadLink(l) == l.id)
        #expect(try store.isDownloadLinkLive(signatureDigest: "d1", now: l.expiresAt))
        #expect(try !store.isDownloadLinkLive(signatureDigest: "d1", now: l.expiresAt + 1))
        #expect(try !store.isDownloadLinkLive(signatureDigest: "d2", now: Fixture.now))
    }

    @Test(arguments: TestBackend.available) func sameSignatureTwiceIsOneLink(_ backend: TestBackend) throws {
        // The same URL signed twice in one second keeps the first row's id.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        let first = link(digest: "same"), second = link(digest: "same")
        #expect(try store.createDownloadLink(first) == first.id)
        #expect(try store.createDownloadLink(second) == first.id)
        #expect(try store.downloadLinks(organizationID: Fixture.org, userID: Fixture.user, now: Fixture.now, limit: 10).count == 1)
    }

    @Test(arguments: TestBackend.available) func listingIsTheUsersLiveLinksNewestFirst(_ backend: TestBackend) throws {
        // Expired links and other users' links are not listed; the newest comes first; the limit binds.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        let old = link(createdAt: Fixture.now - 10), new = link(createdAt: Fixture.now)
        _ = try store.createDownloadLink(old)
        _ = try store.createDownloadLink(new)
        _ = try store.createDownloadLink(link(createdAt: Fixture.now - 100, expiresAt: Fixture.now - 1))
        _ = try store.createDownloadLink(link(user: Fixture.otherUser))
        #expect(try store.downloadLinks(organizationID: Fixture.org, userID: Fixture.user, now: Fixture.now, limit: 10) == [new, old])
        #expect(try store.downloadLinks(organizationID: Fixture.org, userID: Fixture.user, now: Fixture.now, limit: 1) == [new])
    }

    @Test(arguments: TestBackend.available) func onlyTheMakerRevokes(_ backend: TestBackend) throws {
        // Another user's revocation finds nothing; the maker's removes the link once.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        let l = link(digest: "mine")
        _ = try store.createDownloadLink(l)
        #expect(try !store.deleteDownloadLink(id: l.id, organizationID: Fixture.org, userID: Fixture.otherUser))
        #expect(try !store.deleteDownloadLink(id: l.id, organizationID: Fixture.otherOrg, userID: Fixture.user))
        #expect(try store.deleteDownloadLink(id: l.id, organizationID: Fixture.org, userID: Fixture.user))
        #expect(try !store.deleteDownloadLink(id: l.id, organizationID: Fixture.org, userID: Fixture.user))
        #expect(try !store.isDownloadLinkLive(signatureDigest: "mine", now: Fixture.now))
    }

    @Test(arguments: TestBackend.available) func deletingTheFileRemovesItsLinks(_ backend: TestBackend) throws {
        // A file's links go in the transaction that deletes it; other files' links stay.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        let gone = try store.store(makeFile(name: "gone.bin", size: 10)), kept = try store.store(makeFile(name: "kept.bin", size: 10))
        _ = try store.createDownloadLink(link(key: gone.objectKey, digest: "gone"))
        _ = try store.createDownloadLink(link(key: kept.objectKey, digest: "kept"))
        _ = try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "gone.bin", now: Fixture.now)
        #expect(try !store.isDownloadLinkLive(signatureDigest: "gone", now: Fixture.now))
        #expect(try store.isDownloadLinkLive(signatureDigest: "kept", now: Fixture.now))
    }

    @Test(arguments: TestBackend.available) func purgeForgetsExpiredLinksAndRotationForgetsAll(_ backend: TestBackend) throws {
        // The clean-up's purge (counted first in a dry run) takes the expired rows only; deleting all takes the rest.
        let temp = try TempDatabase(backend)
        let store = try temp.store()
        _ = try store.createDownloadLink(link(digest: "old", expiresAt: Fixture.now - 1))
        _ = try store.createDownloadLink(link(digest: "live"))
        #expect(try store.purgeExpiredDownloadLinks(now: Fixture.now, dryRun: true) == 1)
        #expect(try store.purgeExpiredDownloadLinks(now: Fixture.now, dryRun: false) == 1)
        #expect(try store.purgeExpiredDownloadLinks(now: Fixture.now, dryRun: false) == 0)
        #expect(try store.isDownloadLinkLive(signatureDigest: "live", now: Fixture.now))
        #expect(try store.deleteAllDownloadLinks() == 1)
        #expect(try !store.isDownloadLinkLive(signatureDigest: "live", now: Fixture.now))
    }
}
