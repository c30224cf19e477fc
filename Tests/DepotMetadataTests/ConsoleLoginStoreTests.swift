import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

/// One-time console logins, on every backend: redeemed once, never after
/// expiry, purged once dead, gone with an offboarded member.
@Suite struct ConsoleLoginStoreTests {
    func login(_ id: String = UUIDs.random(), user: String = Fixture.user, createdAt: Int64 = Fixture.now,
               expiresAt: Int64 = Fixture.now + 600) -> ConsoleLogin {
        ConsoleLogin(id: id, organizationID: Fixture.org, userID: user, role: "admin", accountType: .organization, tokenLifetime: 3600,
                     secretHash: [UInt8](repeating: 7, count: 32), createdAt: createdAt, expiresAt: expiresAt, usedAt: nil)
    }

    @Test(arguments: TestBackend.available)
    func aLoginIsClaimedOnceAndNeverAfterItExpires(_ backend: TestBackend) throws {
        let database = try TempDatabase(backend)
        let store = try database.store()
        let first = login(), late = login()
        try store.createConsoleLogin(first)
        try store.createConsoleLogin(late)
        #expect(try store.consoleLogin(id: first.id) == first)
        #expect(try store.claimConsoleLogin(id: first.id, now: Fixture.now + 1))
        #expect(try !store.claimConsoleLogin(id: first.id, now: Fixture.now + 2))
        #expect(try store.consoleLogin(id: first.id)?.usedAt == Fixture.now + 1)
        #expect(try !store.claimConsoleLogin(id: late.id, now: late.expiresAt))
        #expect(try !store.claimConsoleLogin(id: UUIDs.random(), now: Fixture.now))
    }

    @Test(arguments: TestBackend.available)
    func thePurgeForgetsOnlyExpiredLogins(_ backend: TestBackend) throws {
        let database = try TempDatabase(backend)
        let store = try database.store()
        let old = login(createdAt: Fixture.now - 1000, expiresAt: Fixture.now - 400), live = login()
        let endingNow = login(createdAt: Fixture.now - 600, expiresAt: Fixture.now)
        for l in [old, live, endingNow] { try store.createConsoleLogin(l) }
        #expect(try store.purgeExpiredConsoleLogins(now: Fixture.now, dryRun: true) == 1)
        #expect(try store.consoleLogin(id: old.id) != nil)
        #expect(try store.purgeExpiredConsoleLogins(now: Fixture.now, dryRun: false) == 1)
        #expect(try store.consoleLogin(id: old.id) == nil)
        #expect(try store.consoleLogin(id: live.id) != nil)
        // One expiring this very second is refused (claims need expires_at > now) but kept until it is past.
        #expect(try store.consoleLogin(id: endingNow.id) != nil)
        #expect(try !store.claimConsoleLogin(id: endingNow.id, now: Fixture.now))
    }

    @Test(arguments: TestBackend.available)
    func offboardingAMemberRemovesTheirLogins(_ backend: TestBackend) throws {
        let database = try TempDatabase(backend)
        let store = try database.store()
        for user in [Fixture.user, Fixture.otherUser] {
            try store.ensureAccount(organizationID: Fixture.org, userID: user, accountType: nil, individualPlan: "individual",
                                    organizationPlan: "organization", now: Fixture.now)
        }
        let gone = login(), stays = login(user: Fixture.otherUser)
        try store.createConsoleLogin(gone)
        try store.createConsoleLogin(stays)
        #expect(try store.offboardingInventory(.user(organizationID: Fixture.org, userID: Fixture.user), now: Fixture.now)?.consoleLogins == 1)
        #expect(try store.consoleLogin(id: gone.id) != nil)
        #expect(try store.offboard(.user(organizationID: Fixture.org, userID: Fixture.user), now: Fixture.now)?.consoleLogins == 1)
        #expect(try store.consoleLogin(id: gone.id) == nil)
        #expect(try store.consoleLogin(id: stays.id) != nil)
    }
}
