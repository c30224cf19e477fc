import DepotMetadata
import Foundation
import Testing

@Suite struct UploadRoutesTests {
    /// Organizations get a 10-byte quota, 8-byte files and no profile images.
    static let tinyPlan = """

        [plan.organization]
        quota = 10
        max_file_size = 8
        categories = general,data_source
        """

    @Test func uploadStoresTheFileEncryptedAndRecordsIt() throws {
        // 201 with the record and a Location; the store holds the bytes under the record's key with an SSE-C key.
        let t = try TestApp()
        let response = try t.upload(Array("a,b\n1,2\n".utf8), filename: "report.csv", token: t.token())
        #expect(response.status == 201)
        let key = try #require(response.json["object_key"] as? String)
        let name = try #require(response.json["object_name"] as? String)
        #expect(name.hasPrefix("report_") && name.hasSuffix(".csv"))
        #expect(response.json["size"] as? Int == 8)
        #expect(response.header("Location") == "/api/v1/storage/objects/\(name)/metadata")
        #expect(t.store.objects[key]?.bytes == Array("a,b\n1,2\n".utf8))
        #expect(t.store.objects[key]?.sseKey?.count == 32)
        #expect(try t.metadata.reservations().isEmpty)
    }

    @Test func sha256IsOfTheWholeBody() throws {
        // The recorded hash is the SHA-256 of the request body as received (the contract's integrity figure).
        let t = try TestApp()
        let response = try t.upload(Array("x".utf8), token: t.token())
        let hash = try #require(response.json["sha256"] as? String)
        #expect(hash.count == 64 && hash.allSatisfy { $0.isHexDigit })
    }

    @Test func uploadNeedsATokenAndAForm() throws {
        // 401 without a token; 400 malformed_multipart without a multipart body; 400 missing_file without a file part.
        let t = try TestApp()
        #expect(try t.upload([1], token: nil).status == 401)
        let noForm = t.request("POST", "/api/v1/storage/upload", token: t.token(), headers: [("Content-Type", "text/plain")])
        #expect(noForm.status == 400 && noForm.errorCode == "malformed_multipart")
        let noBody = t.request("POST", "/api/v1/storage/upload", token: t.token(),
                               headers: [("Content-Type", "multipart/form-data; boundary=x")])
        #expect(noBody.status == 400 && noBody.errorCode == "malformed_multipart")
        let empty = try t.upload([], token: t.token())
        #expect(empty.status == 400 && empty.errorCode == "empty_file")
    }

    @Test func categoriesFollowThePlan() throws {
        // An unknown category and one the plan does not allow are 422 invalid_category.
        let t = try TestApp(extraConfig: Self.tinyPlan)
        let unknown = try t.upload([1], fields: [("category", "music")], token: t.token())
        #expect(unknown.status == 422 && unknown.errorCode == "invalid_category")
        let notAllowed = try t.upload([1], fields: [("category", "profile_image")], token: t.token())
        #expect(notAllowed.status == 422 && notAllowed.errorCode == "invalid_category")
    }

    @Test func profileImagesAreSniffed() throws {
        // A profile image that is not an image is 415; a PNG is stored as image/png whatever was declared.
        let t = try TestApp()
        let text = try t.upload(Array("hello".utf8), filename: "me.png", contentType: "image/png",
                                fields: [("category", "profile_image")], token: t.token())
        #expect(text.status == 415 && text.errorCode == "unsupported_media_type")
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 32)
        let image = try t.upload(png, filename: "me.bin", contentType: "application/octet-stream",
                                 fields: [("category", "profile_image")], token: t.token())
        #expect(image.status == 201 && image.json["content_type"] as? String == "image/png")
    }

    @Test func limitsRefuseWithoutLeavingAnything() throws {
        // Over the per-file limit: 413 file_too_large; over the quota: 413 quota_exceeded; no reservation, no object.
        let t = try TestApp(extraConfig: Self.tinyPlan)
        let tooLarge = try t.upload([UInt8](repeating: 1, count: 9), token: t.token())
        #expect(tooLarge.status == 413 && tooLarge.errorCode == "file_too_large")
        #expect(try t.upload([UInt8](repeating: 1, count: 8), token: t.token()).status == 201)
        let overQuota = try t.upload([UInt8](repeating: 1, count: 3), token: t.token())
        #expect(overQuota.status == 413 && overQuota.errorCode == "quota_exceeded")
        #expect(try t.metadata.reservations().isEmpty)
        #expect(t.store.objects.count == 1)
    }

    @Test func storeFailureReleasesTheReservation() throws {
        // The store is down: 503 store_unavailable, the reserved bytes are free again, the key is queued for deletion.
        let t = try TestApp()
        t.store.isDown = true
        let response = try t.upload(Array("data".utf8), token: t.token())
        #expect(response.status == 503 && response.errorCode == "store_unavailable")
        #expect(response.header("Retry-After") != nil)
        #expect(try t.metadata.reservations().isEmpty)
        #expect(try t.metadata.account(organizationID: TestApp.org)?.quota.reservedBytes == 0)
        #expect(try t.metadata.pendingDeletes().count == 1)
    }

    @Test func largeFilesGoThroughMultipart() throws {
        // Above the threshold the file is sent in parts and assembled whole.
        let t = try TestApp(extraConfig: "\n[store]\nmultipart_threshold = 16\n")
        let bytes = (0..<40).map { UInt8($0) }
        let response = try t.upload(bytes, filename: "big.bin", contentType: "application/octet-stream", token: t.token())
        #expect(response.status == 201)
        let key = try #require(response.json["object_key"] as? String)
        #expect(t.store.objects[key]?.bytes == bytes)
        #expect(t.store.multipart.isEmpty)
    }

    @Test func workflowUploadsHaveTheirKeyAndNoLocation() throws {
        // workflow_id, run_id and direction together make a workflow key; partial or invalid fields are 422.
        let t = try TestApp()
        let wf = "55555555-5555-4555-8555-555555555555", run = "66666666-6666-4666-8666-666666666666"
        let ok = try t.upload([1, 2], fields: [("workflow_id", wf), ("run_id", run), ("direction", "output"), ("workflow_name", "Nightly")],
                              token: t.token())
        #expect(ok.status == 201)
        #expect((ok.json["object_key"] as? String)?.contains("/workflows/\(wf)/runs/\(run)/output/") == true)
        #expect(ok.header("Location") == nil)
        for fields in [[("workflow_id", wf)], [("workflow_id", "x"), ("run_id", run), ("direction", "output")],
                       [("workflow_id", wf), ("run_id", run), ("direction", "sideways")], [("workflow_name", "n")]] {
            let bad = try t.upload([1], fields: fields, token: t.token())
            #expect(bad.status == 422, "\(fields)")
        }
    }
}
