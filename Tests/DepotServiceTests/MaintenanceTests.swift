import DepotDomain
import DepotMetadata
@testable import DepotService
import Foundation
import Testing

@Suite struct MaintenanceTests {
    @Test func gcDeletesOnlyOrphansItCanDateAsOld() throws {
        // Past the grace period an unclaimed object goes; a young one, an undated one and a recorded file stay.
        let t = try TestApp()
        let record = try t.uploadFile()
        let folder = "organizations/\(TestApp.org)/files/\(TestApp.user)/"
        let now = Date()
        t.store.plant(folder + "old.bin", lastModified: now.addingTimeInterval(-7200))
        t.store.plant(folder + "young.bin", lastModified: now.addingTimeInterval(-60))
        t.store.plant(folder + "undated.bin", lastModified: nil)
        let maintenance = Maintenance(config: t.config, metadata: t.metadata, store: t.store)
        let report = try maintenance.collectGarbage(now: now)
        #expect(report.orphanObjects == [folder + "old.bin"])
        #expect(t.store.objects[folder + "old.bin"] == nil)
        for kept in ["young.bin", "undated.bin"] { #expect(t.store.objects[folder + kept] != nil, "\(kept)") }
        #expect(t.store.objects[record["object_key"] as! String] != nil)
    }

    @Test func gcForgetsExpiredDownloadLinks() throws {
        // A link past its expiry is forgotten by the pass (counted only by a dry run); a live one stays listed.
        let t = try TestApp()
        let name = try #require(try t.uploadFile()["object_name"] as? String)
        #expect(t.get("/api/v1/storage/objects/\(name)/presigned-url?expires_in=60", token: t.token()).status == 200)
        #expect(t.get("/api/v1/storage/objects/\(name)/presigned-url?expires_in=7200", token: t.token()).status == 200)
        let later = t.now.addingTimeInterval(120)
        let maintenance = Maintenance(config: t.config, metadata: t.metadata, store: t.store)
        #expect(try maintenance.collectGarbage(now: later, dryRun: true).expiredDownloadLinks == 1)
        #expect(try maintenance.collectGarbage(now: later).expiredDownloadLinks == 1)
        #expect(try maintenance.collectGarbage(now: later).expiredDownloadLinks == 0)
        let live = Int64(later.timeIntervalSince1970)
        #expect(try t.metadata.downloadLinks(organizationID: TestApp.org, userID: TestApp.user, now: live, limit: 10).count == 1)
    }

    @Test func gcForgetsExpiredUploadLinksAndConsoleLogins() throws {
        // Used or not, links and logins past their expiry go; live ones stay usable.
        let t = try TestApp()
        func link(_ expiresIn: Int) throws -> String {
            let r = t.request("POST", "/api/v1/storage/upload-urls", token: t.token(), headers: [("Content-Type", "application/json")],
                              body: TestApp.body(#"{"expires_in": \#(expiresIn)}"#))
            return try #require(r.json["id"] as? String)
        }
        let short = try link(60), long = try link(7200)
        let now = Int64(t.now.timeIntervalSince1970)
        for validFor: Int64 in [60, 7200] {
            let code = SecretToken.generate()
            try t.metadata.createConsoleLogin(ConsoleLogin(id: code.id, organizationID: TestApp.org, userID: TestApp.user, role: "member",
                                                           accountType: nil, tokenLifetime: 60, secretHash: code.secretHash,
                                                           createdAt: now, expiresAt: now + validFor, usedAt: nil))
        }
        let later = t.now.addingTimeInterval(120)
        let maintenance = Maintenance(config: t.config, metadata: t.metadata, store: t.store)
        let dry = try maintenance.collectGarbage(now: later, dryRun: true)
        #expect((dry.expiredUploadLinks, dry.expiredConsoleLogins) == (1, 1))
        #expect(try t.metadata.uploadLink(id: short) != nil)
        let pass = try maintenance.collectGarbage(now: later)
        #expect((pass.expiredUploadLinks, pass.expiredConsoleLogins) == (1, 1))
        #expect(try t.metadata.uploadLink(id: short) == nil)
        #expect(try t.metadata.uploadLink(id: long) != nil)
        let again = try maintenance.collectGarbage(now: later)
        #expect((again.expiredUploadLinks, again.expiredConsoleLogins) == (0, 0))
    }

    @Test func offboardedObjectsTheStoreRefusesWaitForGC() throws {
        // An offboarding's objects are deleted at once; with the store down they stay queued and the next pass deletes them.
        let t = try TestApp()
        let key = try #require(try t.uploadFile()["object_key"] as? String)
        let report = try #require(try t.metadata.offboard(.file(objectKey: key), now: Int64(t.now.timeIntervalSince1970)))
        let maintenance = Maintenance(config: t.config, metadata: t.metadata, store: t.store)
        t.store.isDown = true
        let outcome = try maintenance.deleteQueuedObjects(report.queuedDeletes)
        #expect(outcome.deleted.isEmpty && outcome.failed == [key])
        #expect(try t.metadata.pendingDeletes().map(\.objectKey) == [key])
        t.store.isDown = false
        #expect(try maintenance.collectGarbage(now: Date()).deletedObjects == [key])
        #expect(t.store.objects[key] == nil)
    }

    @Test func aQueuedDeleteWhoseMultipartUploadIsGoneIsCarriedOut() throws {
        // The store answers 404 for an upload already aborted (by a request
        // that then failed to delete the object): gc deletes the object and
        // forgets the entry instead of failing on it every pass.
        let t = try TestApp()
        try t.metadata.ensureAccount(organizationID: TestApp.org, userID: TestApp.user, accountType: nil,
                                     individualPlan: "individual", organizationPlan: "organization", now: 1)
        let key = "organizations/\(TestApp.org)/files/\(TestApp.user)/gone.bin"
        let reserved = try t.metadata.reserve(organizationID: TestApp.org, userID: TestApp.user, bytes: 10, objectKey: key,
                                              ownerPID: 1, ownerStart: "x", now: 1, ttl: 60)
        let id = try reserved.get()
        try t.metadata.attachUpload(reservationID: id, uploadID: "already-aborted")
        try t.metadata.releaseReservation(id: id, now: 2, reason: "upload failed")
        t.store.plant(key, lastModified: Date())
        let report = try Maintenance(config: t.config, metadata: t.metadata, store: t.store).collectGarbage(now: Date())
        #expect(report.failedDeletes.isEmpty && report.deletedObjects == [key])
        #expect(t.store.objects[key] == nil)
        #expect(try t.metadata.pendingDeletes().isEmpty)
    }

    @Test func fsckRepairKeepsUndatedOrphans() throws {
        // fsck reports every unclaimed object, and --repair deletes only those it can date past the grace period.
        let t = try TestApp()
        let folder = "organizations/\(TestApp.org)/files/\(TestApp.user)/"
        t.store.plant(folder + "old.bin", lastModified: Date().addingTimeInterval(-7200))
        t.store.plant(folder + "undated.bin", lastModified: nil)
        let maintenance = Maintenance(config: t.config, metadata: t.metadata, store: t.store)
        let report = try maintenance.check(repair: true)
        #expect(Set(report.orphanObjects.map(\.key)) == [folder + "old.bin", folder + "undated.bin"])
        #expect(t.store.objects[folder + "old.bin"] == nil)
        #expect(t.store.objects[folder + "undated.bin"] != nil)
    }

    @Test func gcReleasesReservationsOfDeadWorkers() throws {
        // A reservation whose owner process is gone is reclaimed and its quota freed.
        let t = try TestApp()
        try t.metadata.ensureAccount(organizationID: TestApp.org, userID: TestApp.user, accountType: nil,
                                     individualPlan: "individual", organizationPlan: "organization", now: 0)
        _ = try t.metadata.reserve(organizationID: TestApp.org, userID: TestApp.user, bytes: 100, objectKey: "organizations/x/stuck",
                                   ownerPID: 999_999, ownerStart: "1", now: Int64(Date().timeIntervalSince1970), ttl: 3600)
        let report = try Maintenance(config: t.config, metadata: t.metadata, store: t.store).collectGarbage()
        #expect(report.reclaimedReservations.count == 1)
        #expect(try t.metadata.account(organizationID: TestApp.org)?.quota.reservedBytes == 0)
    }
}

@Suite struct ProcessIdentityTests {
    @Test func ownerNamesItsHost() {
        // A worker's identity carries its host, and is alive here.
        let me = ProcessIdentity.current
        #expect(me.start.hasSuffix("@" + ProcessIdentity.hostName))
        #expect(ProcessIdentity.isAlive(pid: me.pid, start: me.start))
    }

    @Test func anotherHostsWorkerIsNeverJudgedByThisProcessTable() {
        // Nodes share the database: another host's pid means nothing here, so its reservation lives until it expires.
        #expect(ProcessIdentity.isAlive(pid: 999_999, start: "1@another-node.example"))
        #expect(ProcessIdentity.isAlive(pid: getpid(), start: "1@another-node.example"))
    }

    @Test func deadOrReusedPidsOnThisHostAreNotAlive() {
        // Here, a gone pid or a pid reused by a newer process is dead; the older host-less form still reads.
        #expect(!ProcessIdentity.isAlive(pid: 999_999, start: "1@" + ProcessIdentity.hostName))
        #expect(!ProcessIdentity.isAlive(pid: getpid(), start: "1@" + ProcessIdentity.hostName))
        let start = ProcessIdentity.startTime(of: getpid()) ?? "?"
        #expect(ProcessIdentity.isAlive(pid: getpid(), start: start))
        #expect(!ProcessIdentity.isAlive(pid: getpid(), start: "1"))
    }
}
