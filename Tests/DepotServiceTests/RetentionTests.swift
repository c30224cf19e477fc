import DepotMetadata
@testable import DepotService
import Foundation
import Testing

/// `expires_in` on every upload route, and the clean-up that honours it.
@Suite struct RetentionTests {
    @Test func formUploadWithExpiresInCarriesExpiresAt() throws {
        // expires_in=3600 gives expires_at an hour after the upload; without it expires_at is null.
        let t = try TestApp()
        let response = try t.upload(Array("x".utf8), fields: [("expires_in", "3600")], token: t.token())
        #expect(response.status == 201)
        #expect(response.json["expires_at"] as? String == "2027-01-15T09:00:00Z")
        #expect(response.json["uploaded_at"] as? String == "2027-01-15T08:00:00Z")
        let forever = try t.uploadFile()
        #expect(forever["expires_at"] is NSNull)
    }

    @Test func expiresInOutsideItsRangeOrNotAnIntegerIs422() throws {
        // 59, a year and a second, a fraction, a sign, words: 422 and nothing stored.
        let t = try TestApp()
        for value in ["59", "31536001", "60.5", "+60", "-60", "1e3", "soon", " 60", "99999999999999999999"] {
            let response = try t.upload(Array("x".utf8), fields: [("expires_in", value)], token: t.token())
            #expect(response.status == 422 && response.errorCode == "invalid_parameter", "\(value)")
        }
        #expect(t.store.objects.isEmpty)
        #expect(try t.upload(Array("x".utf8), fields: [("expires_in", "31536000")], token: t.token()).status == 201)
    }

    @Test func resumableUploadExpiresItsFileFromCompletion() throws {
        // Upload-Metadata expires_in is kept with the upload and applied when the last byte arrives.
        let t = try TestApp()
        let tus = ResumableUploadRoutesTests()
        let refused = tus.create(t, length: 3, metadata: [("filename", "a.txt"), ("expires_in", "10")])
        #expect(refused.status == 422)
        let created = tus.create(t, length: 3, metadata: [("filename", "a.txt"), ("expires_in", "120")])
        let location = try #require(created.header("Location"))
        t.now += 30
        let done = tus.patch(t, location, offset: 0, Array("abc".utf8))
        #expect(done.status == 204)
        let fileID = try #require(done.header("Depot-File-Id"))
        let record = try #require(try t.metadata.listFiles(organizationID: TestApp.org, userID: TestApp.user, category: nil, sort: .uploadedAt,
                                                           order: .desc, page: 1, pageSize: 10).files.first { $0.id == fileID })
        #expect(record.expiresAt == Int64(t.now.timeIntervalSince1970) + 120)
    }

    @Test func gcDeletesExpiredFilesAndFreesTheirQuota() throws {
        // Past expires_at the clean-up removes the record, its quota and its object; an unexpired file stays.
        let t = try TestApp()
        let short = try t.upload(Array("12345".utf8), fields: [("expires_in", "60")], token: t.token()).json
        let long = try t.upload(Array("1".utf8), fields: [("expires_in", "3600")], token: t.token()).json
        let maintenance = Maintenance(config: t.config, metadata: t.metadata, store: t.store)
        let early = try maintenance.collectGarbage(now: t.now.addingTimeInterval(59))
        #expect(early.expiredFiles.isEmpty)
        let dry = try maintenance.collectGarbage(now: t.now.addingTimeInterval(60), dryRun: true)
        #expect(dry.expiredFiles.map(\.objectKey) == [short["object_key"] as! String])
        #expect(t.store.objects[short["object_key"] as! String] != nil)
        let report = try maintenance.collectGarbage(now: t.now.addingTimeInterval(60))
        #expect(report.expiredFiles.map(\.objectKey) == [short["object_key"] as! String])
        #expect(report.deletedObjects == [short["object_key"] as! String])
        #expect(t.store.objects[short["object_key"] as! String] == nil)
        #expect(t.store.objects[long["object_key"] as! String] != nil)
        let usage = t.get("/api/v1/storage/usage", token: t.token()).json
        #expect(usage["used_bytes"] as? Int == 1 && usage["file_count"] as? Int == 1)
        #expect(try t.metadata.pendingDeletes().isEmpty)
    }

    @Test func metricsCountExpiredFilesWaitingForTheCleanUp() throws {
        // depot_files_expired is 0 until a file's expires_at passes, then 1 until gc removes it.
        let t = try TestApp()
        _ = try t.upload(Array("x".utf8), fields: [("expires_in", "60")], token: t.token())
        #expect(t.get("/metrics").text.contains("\ndepot_files_expired 0\n"))
        t.now += 60
        #expect(t.get("/metrics").text.contains("\ndepot_files_expired 1\n"))
        _ = try Maintenance(config: t.config, metadata: t.metadata, store: t.store).collectGarbage(now: t.now)
        #expect(t.get("/metrics").text.contains("\ndepot_files_expired 0\n"))
    }

    @Test func storageUsageSaysWhetherTheBreakdownWasCut() throws {
        // A small organization's breakdown is whole: breakdownTruncated is false.
        let t = try TestApp()
        let usage = t.get("/api/v1/objects/storage-usage", token: t.token())
        #expect(usage.status == 200 && usage.json["breakdownTruncated"] as? Bool == false)
    }
}
