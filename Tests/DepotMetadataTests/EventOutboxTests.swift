import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

@Suite struct EventOutboxTests {
    private func store(_ temp: TempDatabase, endpoints: [EventEndpoint] = [EventEndpoint(name: "hooks", kinds: nil)]) throws -> SQLMetadataStore {
        let store = try temp.store()
        store.eventEndpoints = endpoints
        try store.ensureAccount(organizationID: Fixture.org, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        return store
    }

    private func types(_ store: SQLMetadataStore) throws -> [String] {
        try store.events(since: nil, failedOnly: false, limit: 1000).map(\.type)
    }

    private func payload(_ record: EventRecord) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(record.payload.utf8)) as? [String: Any])
    }

    @Test(arguments: TestBackend.available) func aCommittedUploadAndItsDeleteAreEventsInOrder(_ backend: TestBackend) throws {
        // file.created then file.deleted, each with a pending delivery, the body naming the file and no secret.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        let file = try store.store(makeFile(name: "a.bin", size: 100))
        _ = try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "a.bin", now: Fixture.now + 5)
        let events = try store.events(since: nil, failedOnly: false, limit: 10)
        #expect(events.map(\.type) == ["file.created", "file.deleted"])
        let body = try payload(events[0])
        #expect(body["id"] as? String == events[0].id)
        #expect(body["type"] as? String == "file.created")
        #expect(body["created_at"] as? String == Timestamps.rfc3339(Fixture.now))
        let data = try #require(body["data"] as? [String: Any])
        #expect(data["organization_id"] as? String == Fixture.org)
        #expect(data["user_id"] as? String == Fixture.user)
        #expect(data["object_key"] as? String == file.objectKey)
        #expect(data["size"] as? Int == 100)
        #expect(!events[0].payload.contains("etag-a.bin") && !events[0].payload.contains("k1\""))
        #expect(events.allSatisfy { $0.deliveries.map(\.endpoint) == ["hooks"] && $0.deliveries[0].status == "pending" })
        let claimed = try store.claimEventDeliveries(endpoints: ["hooks"], now: Fixture.now + 10, lease: 60, limit: 10)
        // The delete waits behind the create (same organization, same endpoint).
        #expect(claimed.map(\.eventID) == [events[0].id])
    }

    @Test(arguments: TestBackend.available) func expiryEmitsFileExpiredNotDeleted(_ backend: TestBackend) throws {
        // deleteExpiredFiles goes through removeFileRecords with the expiry reason.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        var f = makeFile(name: "old.bin", size: 10)
        f.expiresAt = Fixture.now + 1
        try store.store(f)
        #expect(try store.deleteExpiredFiles(now: Fixture.now + 2, limit: 10).count == 1)
        #expect(try types(store) == ["file.created", "file.expired"])
    }

    @Test(arguments: TestBackend.available) func aRolledBackChangeLeavesNoEvent(_ backend: TestBackend) throws {
        // A commit whose reservation is gone records neither file nor event.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        #expect(try store.commitUpload(reservationID: "gone", file: makeFile(name: "x", size: 1), workflowName: nil) == false)
        #expect(try types(store).isEmpty)
    }

    @Test(arguments: TestBackend.available) func quotaThresholdsFireOncePerCrossing(_ backend: TestBackend) throws {
        // Tiny plan (1000 bytes): 500 (50%), +300 (80%), +0.. then delete and cross 80% again.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        _ = try store.setPlan(organizationID: Fixture.org, plan: "tiny", now: Fixture.now)
        try store.store(makeFile(name: "a", size: 500))
        try store.store(makeFile(name: "b", size: 300))
        #expect(try types(store).filter { $0 == "quota.threshold" }.count == 1)
        _ = try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "b", now: Fixture.now)
        try store.store(makeFile(name: "c", size: 200))
        let thresholds = try store.events(since: nil, failedOnly: false, limit: 100).filter { $0.type == "quota.threshold" }
        let values = try thresholds.map { try #require(try payload($0)["data"] as? [String: Any])["threshold"] as? Int }
        // 80 at 800 bytes; re-armed at 500; 700 crosses nothing.
        #expect(values == [80])
        try store.store(makeFile(name: "d", size: 300))  // 1000: 80, 95 and 100 all crossed at once
        let after = try store.events(since: nil, failedOnly: false, limit: 100).filter { $0.type == "quota.threshold" }
        #expect(try after.map { try #require(try payload($0)["data"] as? [String: Any])["threshold"] as? Int } == [80, 80, 95, 100])
    }

    @Test(arguments: TestBackend.available) func aQuotaChangedUnderTheUsageCountsAsACrossing(_ backend: TestBackend) throws {
        // 500 bytes stored: 50 % of tiny (1000). A smaller plan (600: 83 %)
        // crosses 80; editing that plan down to 500 crosses 95 and 100; a
        // larger plan re-arms them, so going back to the small one reports them again.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        _ = try store.setPlan(organizationID: Fixture.org, plan: "tiny", now: Fixture.now)
        try store.store(makeFile(name: "a", size: 500))
        var small = Plan(name: "small", quotaBytes: 600, maxFileSizeBytes: 600, maxFiles: 10, allowedCategories: FileCategory.allCases)
        try store.upsertPlan(small, now: Fixture.now)
        func crossed() throws -> [Int?] {
            try store.events(since: nil, failedOnly: false, limit: 100).filter { $0.type == "quota.threshold" }
                .map { try #require(try payload($0)["data"] as? [String: Any])["threshold"] as? Int }
        }
        #expect(try crossed().isEmpty)
        #expect(try store.setPlan(organizationID: Fixture.org, plan: "small", now: Fixture.now))
        #expect(try crossed() == [80])
        small.quotaBytes = 500
        try store.upsertPlan(small, now: Fixture.now)
        #expect(try crossed() == [80, 95, 100])
        #expect(try store.setPlan(organizationID: Fixture.org, plan: "tiny", now: Fixture.now))
        #expect(try store.setPlan(organizationID: Fixture.org, plan: "small", now: Fixture.now))
        #expect(try crossed() == [80, 95, 100, 80, 95, 100])
        #expect(try store.setPlan(organizationID: "6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d", plan: "small", now: Fixture.now) == false)
    }

    @Test(arguments: TestBackend.available) func rejectedFilesAndExpiredUploadsAreRecorded(_ backend: TestBackend) throws {
        // The scanning seam records file.rejected alone; gc's expiry of an unfinished upload records upload.expired.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        try store.recordFileRejected(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "eicar.com", size: 68,
                                     reason: "malware_detected", signature: "Eicar-Test-Signature", route: "upload", now: Fixture.now)
        let upload = ResumableUpload(id: "u1", organizationID: Fixture.org, userID: Fixture.user, reservationID: "res-u1", objectKey: "k-u1",
                                     objectName: "big.bin", originalFilename: "big.bin", contentType: "application/octet-stream",
                                     category: .general, workflowID: nil, runID: nil, direction: nil, workflowName: nil,
                                     metadataHeader: "", length: 1000, offset: 0, storeUploadID: "mp-1",
                                     keyID: "k1", partsBytes: 0, partCount: 0, stagedKey: nil, hashState: [0], head: [],
                                     createdAt: Fixture.now, expiresAt: Fixture.now + 10, fileID: nil)
        guard case .success = try store.createResumableUpload(upload) else { throw TestFailure("upload refused") }
        #expect(try store.expireResumableUpload(id: "u1", now: Fixture.now + 20)?.id == "u1")
        #expect(try types(store) == ["file.rejected", "upload.expired"])
        #expect(try store.file(key: "k-u1") == nil)
    }

    @Test(arguments: TestBackend.available) func deliveriesFollowTheirEndpointsTypesAndOutcomes(_ backend: TestBackend) throws {
        // An endpoint wanting only deletes gets no create; failures retry, then die; counts follow; replay re-queues.
        let temp = try TempDatabase(backend)
        let store = try store(temp, endpoints: [EventEndpoint(name: "all", kinds: nil), EventEndpoint(name: "deletes", kinds: [.fileDeleted])])
        try store.store(makeFile(name: "a", size: 1))
        let created = try #require(try store.events(since: nil, failedOnly: false, limit: 1).first)
        #expect(created.deliveries.map(\.endpoint) == ["all"])
        #expect(try store.claimEventDeliveries(endpoints: ["deletes"], now: Fixture.now, lease: 60, limit: 10).isEmpty)
        let first = try store.claimEventDeliveries(endpoints: ["all"], now: Fixture.now, lease: 60, limit: 10)
        #expect(first.count == 1)
        // Leased: not claimed again until the lease ends.
        #expect(try store.claimEventDeliveries(endpoints: ["all"], now: Fixture.now + 1, lease: 60, limit: 10).isEmpty)
        try store.recordEventFailure(eventID: created.id, endpoint: "all", error: "HTTP 500", retryAt: Fixture.now + 5)
        #expect(try store.claimEventDeliveries(endpoints: ["all"], now: Fixture.now + 4, lease: 60, limit: 10).isEmpty)
        #expect(try store.claimEventDeliveries(endpoints: ["all"], now: Fixture.now + 5, lease: 60, limit: 10).first?.attempts == 1)
        try store.recordEventFailure(eventID: created.id, endpoint: "all", error: "HTTP 500", retryAt: nil)
        #expect(try store.events(since: nil, failedOnly: true, limit: 10).map(\.id) == [created.id])
        #expect(try store.eventCounts() == EventCounts(delivered: 0, retried: 2, dead: 1, pending: 0))
        #expect(try store.replayEvents(ids: [created.id], since: nil, now: Fixture.now + 100) == 1)
        let again = try store.claimEventDeliveries(endpoints: ["all"], now: Fixture.now + 100, lease: 60, limit: 10)
        #expect(again.map(\.pendingSince) == [Fixture.now + 100])
        try store.recordEventDelivered(eventID: created.id, endpoint: "all", now: Fixture.now + 101)
        #expect(try store.eventCounts() == EventCounts(delivered: 1, retried: 2, dead: 0, pending: 0))
        #expect(try store.pruneEvents(before: Fixture.now + 1) == 1)
        #expect(try types(store).isEmpty)
    }

    @Test(arguments: TestBackend.available) func oneOrganizationsFailureHoldsBackOnlyItsOwnEvents(_ backend: TestBackend) throws {
        // Org A's first event failing keeps A's second waiting; org B's event goes out meanwhile.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        try store.ensureAccount(organizationID: Fixture.otherOrg, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        try store.store(makeFile(name: "a1", size: 1))
        try store.store(makeFile(name: "a2", size: 1))
        try store.store(makeFile(org: Fixture.otherOrg, name: "b1", size: 1))
        let due = try store.claimEventDeliveries(endpoints: ["hooks"], now: Fixture.now, lease: 60, limit: 10)
        #expect(due.map(\.organizationID) == [Fixture.org, Fixture.otherOrg])
        // A second deliverer (another node) finds nothing it may send now.
        let other = try temp.connect()
        #expect(try other.claimEventDeliveries(endpoints: ["hooks"], now: Fixture.now, lease: 60, limit: 10).isEmpty)
    }

    @Test(arguments: TestBackend.available) func migrateDataCopiesTheOutbox(_ backend: TestBackend) throws {
        // copiedTables lists the event tables: a copy keeps events and their deliveries.
        let temp = try TempDatabase(backend)
        let store = try store(temp)
        try store.store(makeFile(name: "a", size: 1))
        let targetDatabase = try TempDatabase(.sqlite)
        let target = try targetDatabase.store()
        try store.copyEverything(to: target)
        #expect(try target.events(since: nil, failedOnly: false, limit: 10).map(\.deliveries.count) == [1])
    }
}
