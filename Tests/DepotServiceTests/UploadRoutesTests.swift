import DepotCrypto
import DepotEncoding
import DepotMetadata
@testable import DepotService
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

    @Test func workflowUploadsHaveTheirKeyAndALocationByKey() throws {
        // workflow_id, run_id and direction together make a workflow key; partial or invalid fields are 422.
        let t = try TestApp()
        let wf = "55555555-5555-4555-8555-555555555555", run = "66666666-6666-4666-8666-666666666666"
        let ok = try t.upload([1, 2], fields: [("workflow_id", wf), ("run_id", run), ("direction", "output"), ("workflow_name", "Nightly")],
                              token: t.token())
        #expect(ok.status == 201)
        #expect((ok.json["object_key"] as? String)?.contains("/workflows/\(wf)/runs/\(run)/output/") == true)
        let key = try #require(ok.json["object_key"] as? String)
        #expect(ok.header("Location") == "/api/v1/storage/objects/\(key.replacingOccurrences(of: "/", with: "%2F"))/metadata")
        #expect(t.get(try #require(ok.header("Location")), token: t.token()).json["object_key"] as? String == key)
        for fields in [[("workflow_id", wf)], [("workflow_id", "x"), ("run_id", run), ("direction", "output")],
                       [("workflow_id", wf), ("run_id", run), ("direction", "sideways")], [("workflow_name", "n")]] {
            let bad = try t.upload([1], fields: fields, token: t.token())
            #expect(bad.status == 422, "\(fields)")
        }
    }
}

@Suite struct StreamedUploadTests {
    /// Files above 16 bytes go to the store in parts while they stream in.
    static let streaming = "\n[store]\nmultipart_threshold = 16\n"
    static let tiny = "\n[plan.organization]\nquota = 100\nmax_file_size = 50\n"

    @Test func headersAloneRefuseWhatCannotFit() throws {
        // Content-Length past the plan's file limit or the free quota (each plus 1 MiB) is 413 before a byte is read.
        let t = try TestApp(extraConfig: "\n[plan.organization]\nquota = 3MiB\nmax_file_size = 2MiB\n")
        let body = TestApp.form([1, 2, 3])
        let tooLarge = t.streamedUpload(body, declaredLength: 3 << 20 + 1, token: t.token())
        #expect(tooLarge.0.status == 413 && tooLarge.0.errorCode == "file_too_large")
        #expect(tooLarge.bytesRead == 0)
        #expect(try t.upload([UInt8](repeating: 7, count: 1 << 20), token: t.token()).status == 201)
        #expect(try t.upload([UInt8](repeating: 7, count: 1 << 20), token: t.token()).status == 201)
        let overQuota = t.streamedUpload(body, declaredLength: 2 << 20 + 1, token: t.token())
        #expect(overQuota.0.status == 413 && overQuota.0.errorCode == "quota_exceeded")
        #expect(overQuota.bytesRead == 0)
        let unauthenticated = t.streamedUpload(body, declaredLength: Int64(body.count), token: nil)
        #expect(unauthenticated.0.status == 401 && unauthenticated.bytesRead == 0)
    }

    @Test func largeFileStreamsInPartsAndIsRecordedWhole() throws {
        // A file above the threshold arrives in chunks, goes out as a multipart upload, and is recorded at its real size.
        let t = try TestApp(extraConfig: Self.streaming)
        let file = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let body = TestApp.form(file, filename: "big.bin", contentType: "application/octet-stream", trailingFields: [("category", "data_source")])
        let (response, _) = t.streamedUpload(body, declaredLength: Int64(body.count), token: t.token())
        #expect(response.status == 201)
        #expect(response.json["size"] as? Int == file.count && response.json["category"] as? String == "data_source")
        let key = try #require(response.json["object_key"] as? String)
        #expect(t.store.objects[key]?.bytes == file)
        #expect(try t.metadata.reservations().isEmpty)
        #expect(try t.metadata.account(organizationID: TestApp.org)?.quota.usedBytes == Int64(file.count))
    }

    /// 5 MiB parts (the S3 minimum), so a file of a few parts streams in-process.
    static let smallParts = streaming + "part_size = 5MiB\n"
    static func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) } }

    @Test func aLargeFileGoesOutAsOnePartPassedThroughAndItsTail() throws {
        // With a Content-Length, all but the last 4 MiB the file can be is one part pulled from the client as the
        // store takes it; the rest follows as the last part. The record has the whole file's size and hash.
        let t = try TestApp(extraConfig: Self.smallParts)
        let file = Self.bytes((12 << 20) + 123)
        let body = TestApp.form(file, filename: "big.bin", contentType: "application/octet-stream")
        let (response, _) = t.streamedUpload(body, declaredLength: Int64(body.count), token: t.token())
        #expect(response.status == 201)
        let key = try #require(response.json["object_key"] as? String)
        #expect(t.store.objects[key]?.bytes == file)
        // The form's closing CR LF is counted as file until it is read, so the first part is 2 bytes longer.
        #expect(t.store.partsSent.map(\.size) == [file.count + 2 - FileIngest.formTail, FileIngest.formTail - 2])
        #expect(response.json["size"] as? Int == file.count)
        #expect(response.json["sha256"] as? String == Hex.encode(DigestHasher.hash(.sha256, file)))
        #expect(try t.metadata.reservations().isEmpty)
    }

    @Test func withoutALengthPartsAreKeptUntilSent() throws {
        // Without a Content-Length the file goes out in part_size parts, each kept until it is stored: a part the
        // store reads twice (libcurl retrying on a fresh connection) is the same bytes.
        let t = try TestApp(extraConfig: Self.smallParts)
        t.store.rereadsStreams = true
        let file = Self.bytes((12 << 20) + 123)
        let body = TestApp.form(file, filename: "big.bin", contentType: "application/octet-stream")
        let (response, _) = t.streamedUpload(body, declaredLength: nil, token: t.token())
        #expect(response.status == 201)
        let key = try #require(response.json["object_key"] as? String)
        #expect(t.store.objects[key]?.bytes == file)
        #expect(t.store.partsSent.map(\.size) == [5 << 20, 5 << 20, (2 << 20) + 123])
    }

    @Test func aFileEndingInsideAKeptPartIsSentWhole() throws {
        // Without a length a whole part was assumed; the file ended short of it, so that part is sent again, complete,
        // as the last one.
        let t = try TestApp(extraConfig: Self.smallParts)
        let file = [UInt8](repeating: 5, count: (5 << 20) - 1000)
        let body = TestApp.form(file, filename: "big.bin", contentType: "application/octet-stream",
                                trailingFields: [("note", String(repeating: "n", count: 60_000))])
        let (response, _) = t.streamedUpload(body, declaredLength: nil, token: t.token())
        #expect(response.status == 201)
        let key = try #require(response.json["object_key"] as? String)
        #expect(t.store.objects[key]?.bytes == file)
        #expect(t.store.partsSent.map(\.size) == [file.count])
    }

    @Test func moreThanTheFormTailAfterALargeFileIsRefused() throws {
        // A 5 MiB part (skipped: it is not named `file`) after a large file: the part passed through is cut short,
        // and the form is refused with 400; nothing stays.
        let t = try TestApp(extraConfig: Self.smallParts)
        let closing = Array("--\(TestApp.boundary)--\r\n".utf8)
        var body = Array(TestApp.form(Self.bytes(12 << 20), filename: "big.bin").dropLast(closing.count))
        body += Array("--\(TestApp.boundary)\r\nContent-Disposition: form-data; name=\"other\"; filename=\"o.bin\"\r\n\r\n".utf8)
        body += [UInt8](repeating: 1, count: 5 << 20) + Array("\r\n".utf8) + closing
        let (response, _) = t.streamedUpload(body, declaredLength: Int64(body.count), token: t.token())
        #expect(response.status == 400 && response.errorCode == "malformed_multipart")
        #expect(response.text.contains("follows the file part"))
        #expect(t.store.objects.isEmpty && t.store.multipart.isEmpty && t.store.partsSent.isEmpty)
        #expect(try t.metadata.reservations().isEmpty)
    }

    @Test func clientGoneInsideAStreamedPartLeavesNothing() throws {
        // The client stops 7 MiB into a 12 MiB file, while its first part is being passed through: 400, nothing stays.
        let t = try TestApp(extraConfig: Self.smallParts)
        let body = TestApp.form([UInt8](repeating: 9, count: 12 << 20))
        let (response, _) = t.streamedUpload(body, declaredLength: Int64(body.count), deliver: 7 << 20, token: t.token())
        #expect(response.status == 400 && response.errorCode == "malformed_multipart")
        #expect(!response.text.contains("follows the file part"))
        #expect(t.store.objects.isEmpty && t.store.multipart.isEmpty && t.store.partsSent.isEmpty)
        #expect(try t.metadata.reservations().isEmpty)
        #expect(try t.metadata.account(organizationID: TestApp.org)?.quota.reservedBytes == 0)
    }

    @Test func clientGoneHalfWayLeavesNothing() throws {
        // The stream ends inside the file: 400, no record, no reservation, no object, no open multipart upload.
        let t = try TestApp(extraConfig: Self.streaming)
        let body = TestApp.form([UInt8](repeating: 9, count: 100_000))
        let (response, _) = t.streamedUpload(body, declaredLength: Int64(body.count), deliver: 60_000, token: t.token())
        #expect(response.status == 400 && response.errorCode == "malformed_multipart")
        #expect(try t.metadata.reservations().isEmpty)
        #expect(t.store.objects.isEmpty && t.store.multipart.isEmpty)
        #expect(try t.metadata.account(organizationID: TestApp.org)?.quota.reservedBytes == 0)
        #expect(try t.metadata.pendingDeletes().isEmpty)
    }

    @Test func workflowFieldsAfterALargeFileAreRefused() throws {
        // Where a large file goes is decided before its bytes leave: workflow fields after it are 422, and nothing stays.
        let t = try TestApp(extraConfig: Self.streaming)
        let wf = "55555555-5555-4555-8555-555555555555", run = "66666666-6666-4666-8666-666666666666"
        let body = TestApp.form([UInt8](repeating: 1, count: 1000),
                                trailingFields: [("workflow_id", wf), ("run_id", run), ("direction", "input")])
        let (response, _) = t.streamedUpload(body, declaredLength: Int64(body.count), token: t.token())
        #expect(response.status == 422)
        #expect(t.store.objects.isEmpty && t.store.multipart.isEmpty)
        #expect(try t.metadata.reservations().isEmpty)
    }

    @Test func aFileGrowingPastThePlanLimitIsStopped() throws {
        // Without a Content-Length the file is cut off once it passes the plan's limit: 413, nothing stays.
        let t = try TestApp(extraConfig: Self.streaming + Self.tiny)
        let body = TestApp.form([UInt8](repeating: 1, count: 80))
        let (response, _) = t.streamedUpload(body, declaredLength: nil, token: t.token())
        #expect(response.status == 413 && response.errorCode == "file_too_large")
        #expect(t.store.objects.isEmpty && t.store.multipart.isEmpty)
        #expect(try t.metadata.reservations().isEmpty)
    }

    @Test func smallFilesMayHaveTheirFieldsAfterThem() throws {
        // Below the threshold the whole form is known before anything is stored, so field order does not matter.
        let t = try TestApp()
        let wf = "55555555-5555-4555-8555-555555555555", run = "66666666-6666-4666-8666-666666666666"
        let response = try t.upload([1, 2, 3], trailingFields: [("workflow_id", wf), ("run_id", run), ("direction", "output")],
                                    token: t.token())
        #expect(response.status == 201 && response.json["workflow_id"] as? String == wf)
    }
}

@Suite struct UploadAdmissionTests {
    private func admission(_ t: TestApp, length: Int64, token: String?) -> TestResponse {
        t.request("POST", "/api/v1/storage/upload", token: token,
                  headers: [("X-Depot-Upload-Admission", "1"), ("Content-Length", String(length)),
                            ("Content-Type", "multipart/form-data; boundary=\(TestApp.boundary)")],
                  body: .stream(length: length) { _ in Issue.record("admission read the body"); return 0 })
    }

    @Test func admissionAnswersFromTheHeadersAlone() throws {
        // nginx's auth_request gets 204 for an upload that may proceed, without a byte of the body read.
        let t = try TestApp()
        let answer = admission(t, length: 1000, token: t.token())
        #expect(answer.status == 204 && answer.response.body.isEmpty)
    }

    @Test func refusalsTravelAs403WithTheRealAnswerInHeaders() throws {
        // auth_request passes only 401/403 on: the real status, code and message ride in headers nginx renders as JSON.
        let t = try TestApp(extraConfig: "\n[plan.organization]\nmax_file_size = 1MiB\n")
        let tooLarge = admission(t, length: 3 << 20, token: t.token())
        #expect(tooLarge.status == 403)
        #expect(tooLarge.header("X-Depot-Refusal-Status") == "413")
        #expect(tooLarge.header("X-Depot-Refusal-Code") == "file_too_large")
        #expect(tooLarge.header("X-Depot-Refusal-Message")?.contains("1048576") == true)
        let noToken = admission(t, length: 10, token: nil)
        #expect(noToken.status == 403 && noToken.header("X-Depot-Refusal-Status") == "401")
        #expect(noToken.header("X-Depot-Refusal-Code") == "unauthorized")
    }

    @Test func refusalMessagesAreSafeInsideJSON() {
        // Whatever a message holds, nginx can paste it between JSON quotes.
        #expect(UploadAdmission.jsonSafe("a \"quoted\" \\ line\nnext é") == "a  quoted    line next  ")
    }
}
