import DepotCrypto
import DepotEncoding
import DepotHTTP
import DepotMetadata
@testable import DepotService
import Foundation
import Testing

@Suite struct ResumableUploadRoutesTests {
    static let uploads = "/api/v1/storage/uploads"
    static let tus = [("Tus-Resumable", "1.0.0")]

    static func metadata(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0) \(Data($0.1.utf8).base64EncodedString())" }.joined(separator: ",")
    }

    func create(_ t: TestApp, length: Int, metadata: [(String, String)] = [("filename", "notes.txt")],
                token: String? = nil) -> TestResponse {
        t.request("POST", Self.uploads, token: token ?? t.token(),
                  headers: Self.tus + [("Upload-Length", String(length)), ("Upload-Metadata", Self.metadata(metadata))])
    }

    func patch(_ t: TestApp, _ location: String, offset: Int, _ bytes: [UInt8], headers: [(String, String)] = [],
               token: String? = nil) -> TestResponse {
        var position = 0
        let body = RequestBody.stream(length: Int64(bytes.count)) { buffer in
            let n = min(buffer.count, bytes.count - position, 100_000)
            guard n > 0 else { return 0 }
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
            position += n
            return n
        }
        return t.request("PATCH", String(location.dropFirst("https://depot.test".count)), token: token ?? t.token(),
                         headers: Self.tus + [("Upload-Offset", String(offset)), ("Content-Type", "application/offset+octet-stream"),
                                              ("Content-Length", String(bytes.count))] + headers, body: body)
    }

    @Test func chunksBecomeOneFileWithTheSourcesHash() throws {
        // Three chunks under the store's 5 MiB part minimum: staged between
        // requests, then the last part; the file's record is the source's.
        let t = try TestApp()
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let created = create(t, length: data.count)
        #expect(created.status == 201)
        let location = try #require(created.header("Location"))
        #expect(location.hasPrefix("https://depot.test/api/v1/storage/uploads/"))
        #expect(created.header("Tus-Resumable") == "1.0.0")
        #expect(created.header("Upload-Offset") == "0")
        var offset = 0
        for chunk in [100_000, 150_000, 50_000] {
            let r = patch(t, location, offset: offset, Array(data[offset..<(offset + chunk)]))
            #expect(r.status == 204, "\(r.text)")
            offset += chunk
            #expect(r.header("Upload-Offset") == String(offset))
        }
        let fileID = try #require(t.metadata.resumableUpload(id: String(location.split(separator: "/").last!))?.fileID)
        let records = try t.metadata.listFiles(organizationID: TestApp.org, userID: TestApp.user, category: nil, sort: .uploadedAt,
                                               order: .desc, page: 1, pageSize: 10).files
        #expect(records.map(\.id) == [fileID])
        #expect(records[0].sha256 == Hex.encode(DigestHasher.hash(.sha256, data)))
        #expect(t.store.objects[records[0].objectKey]?.bytes == data)
        // Only the file is left in the store: the staging objects went.
        #expect(t.store.objects.keys.sorted() == [records[0].objectKey])
        #expect(try t.metadata.reservations().isEmpty)
    }

    @Test func theOffsetNamesOnlyDurableBytes() throws {
        // A chunk whose body ends early (the client went away) leaves the
        // offset where the last durable byte is.
        let t = try TestApp()
        let location = try #require(create(t, length: 1000).header("Location"))
        var served = 0
        let cut = RequestBody.stream(length: 600) { buffer in
            let n = min(buffer.count, 200 - served)
            guard n > 0 else { return 0 }
            served += n
            return n
        }
        let r = t.request("PATCH", String(location.dropFirst("https://depot.test".count)), token: t.token(),
                          headers: Self.tus + [("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream"),
                                               ("Content-Length", "600")], body: cut)
        #expect(r.status == 400)
        let id = String(location.split(separator: "/").last!)
        #expect(try t.metadata.resumableUpload(id: id)?.offset == 0)
        #expect(patch(t, location, offset: 0, [UInt8](repeating: 1, count: 1000)).status == 204)
    }

    @Test func aLockHeldByALiveRequestRefusesASecondPatch() throws {
        let t = try TestApp()
        let location = try #require(create(t, length: 10).header("Location"))
        let id = String(location.split(separator: "/").last!)
        // Another live process of this host holds the lock (the test's parent).
        let holder = ResumableUploadRoutes.lockOwner((getppid(), ProcessIdentity.startTime(of: getppid()) ?? "?"))
        let seconds = Int64(t.now.timeIntervalSince1970)
        #expect(try t.metadata.lockResumableUpload(id: id, owner: holder, now: seconds, until: seconds + 60,
                                                   ownerIsAlive: ResumableUploadRoutes.lockOwnerIsAlive) != .busy)
        let r = patch(t, location, offset: 0, [UInt8](repeating: 1, count: 10))
        #expect(r.status == 409 && r.errorCode == "upload_locked")
        // Another host's holder keeps the lock until its lease ends.
        _ = try t.metadata.lockResumableUpload(id: id, owner: "other-host 42 7", now: seconds, until: seconds + 60,
                                               ownerIsAlive: { _ in false })
        #expect(patch(t, location, offset: 0, [UInt8](repeating: 1, count: 10)).status == 409)
        t.now += 61
        // A holder that is gone (or whose lease ended) does not block.
        #expect(patch(t, location, offset: 0, [UInt8](repeating: 1, count: 10)).status == 204)
    }

    @Test func pagesOfAllowedOriginsGetCORSHeadersOthersNone() throws {
        let t = try TestApp(extraConfig: "\n[uploads]\ncors_origins = https://app.example.com\n")
        let preflight = t.request("OPTIONS", Self.uploads + "/6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d",
                                  headers: [("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "PATCH")])
        #expect(preflight.status == 204)
        #expect(preflight.header("Access-Control-Allow-Origin") == "https://app.example.com")
        #expect(preflight.header("Access-Control-Allow-Methods")?.contains("PATCH") == true)
        #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Upload-Offset") == true)
        let created = t.request("POST", Self.uploads, token: t.token(), headers: Self.tus + [
            ("Origin", "https://app.example.com"), ("Upload-Length", "3"), ("Upload-Metadata", Self.metadata([("filename", "a")]))])
        #expect(created.status == 201)
        #expect(created.header("Access-Control-Expose-Headers")?.contains("Location") == true)
        #expect(created.header("Access-Control-Allow-Methods") == nil)
        for origin in ["https://evil.example.com", "https://app.example.com.evil.com", "null", "https://APP.example.com"] {
            let r = t.request("OPTIONS", Self.uploads, headers: [("Origin", origin), ("Access-Control-Request-Method", "POST")])
            #expect(r.status == 204 && r.header("Access-Control-Allow-Origin") == nil, "\(origin)")
        }
    }

    @Test func refusalsCarryCORSTooAndAdmissionsHandThemToNginx() throws {
        // A browser page reads a refusal only with CORS headers: without them
        // it sees a network error, and tus clients retry that forever.
        let t = try TestApp(extraConfig: "\n[uploads]\ncors_origins = https://app.example.com\n")
        let page = [("Origin", "https://app.example.com")]
        let noToken = t.request("POST", Self.uploads, headers: Self.tus + page + [("Upload-Length", "3")])
        #expect(noToken.status == 401)
        #expect(noToken.header("Access-Control-Allow-Origin") == "https://app.example.com")
        let unknown = t.request("HEAD", Self.uploads + "/6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d", token: t.token(), headers: Self.tus + page)
        #expect(unknown.status == 404)
        #expect(unknown.header("Access-Control-Expose-Headers")?.contains("Upload-Offset") == true)
        // nginx writes the error of a refused admission: the worker names the CORS headers for it.
        let location = try #require(create(t, length: 10).header("Location"))
        let admission = t.request("PATCH", String(location.dropFirst("https://depot.test".count)), token: t.token(), headers: Self.tus + page + [
            ("Upload-Offset", "4"), ("Content-Type", "application/offset+octet-stream"), ("Content-Length", "2"),
            ("X-Depot-Upload-Admission", "1")])
        #expect(admission.status == 403)
        #expect(admission.header(UploadAdmission.statusHeader) == "409")
        #expect(admission.header(UploadAdmission.corsOriginHeader) == "https://app.example.com")
        #expect(admission.header(UploadAdmission.corsExposeHeader)?.contains("Upload-Offset") == true)
        #expect(admission.header("Access-Control-Allow-Origin") == nil)
        // Another origin, or a route that is not tus: nothing.
        let other = t.request("POST", Self.uploads, headers: Self.tus + [("Origin", "https://evil.example.com"), ("Upload-Length", "3")])
        #expect(other.status == 401 && other.header("Access-Control-Allow-Origin") == nil)
        let quota = t.request("GET", "/api/v1/storage/quota", token: t.token(), headers: page)
        #expect(quota.status == 200 && quota.header("Access-Control-Allow-Origin") == nil)
        let lookalike = t.request("GET", Self.uploads + "-x", token: t.token(), headers: page)
        #expect(lookalike.header("Access-Control-Allow-Origin") == nil)
    }

    @Test func aSlowPatchRenewsItsLeaseSoNoOtherHostTakesOver() throws {
        // The body trickles in over 150 s (longer than the 120 s lease):
        // another host asking for the lock along the way is refused.
        let t = try TestApp()
        let location = try #require(create(t, length: 30).header("Location"))
        let id = String(location.split(separator: "/").last!)
        var sent = 0
        var refusals: [ResumableUploadLock] = []
        let body = RequestBody.stream(length: 30) { buffer in
            guard sent < 30 else { return 0 }
            t.now += 50
            let seconds = Int64(t.now.timeIntervalSince1970)
            refusals.append((try? t.metadata.lockResumableUpload(id: id, owner: "other-host 1 1", now: seconds, until: seconds + 120,
                                                                 ownerIsAlive: { _ in nil })) ?? .missing)
            buffer[0] = 7
            sent += 1
            return 1
        }
        let r = t.request("PATCH", String(location.dropFirst("https://depot.test".count)), token: t.token(),
                          headers: Self.tus + [("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream"),
                                               ("Content-Length", "30")], body: body)
        #expect(r.status == 204, "\(r.text)")
        #expect(refusals.count == 30 && refusals.allSatisfy { $0 == .busy })
    }

    @Test func protocolErrorsAnswerAsTheContractSays() throws {
        let t = try TestApp()
        #expect(t.request("POST", Self.uploads, token: t.token(), headers: [("Upload-Length", "5")]).status == 412)
        #expect(create(t, length: 5, metadata: [("category", "general")]).errorCode == "missing_file")
        #expect(create(t, length: 0).errorCode == "empty_file")
        let location = try #require(create(t, length: 5).header("Location"))
        #expect(patch(t, location, offset: 1, [1]).status == 409)
        #expect(patch(t, location, offset: 0, [1, 2, 3, 4, 5, 6]).status == 413)
        #expect(patch(t, location, offset: 0, [1], headers: [("Upload-Checksum", "md5 AAAA")]).errorCode == "unsupported_checksum_algorithm")
        let wrong = "sha1 " + Data(DigestHasher.hash(.sha1, [9])).base64EncodedString()
        #expect(patch(t, location, offset: 0, [1], headers: [("Upload-Checksum", wrong)]).status == 460)
        let other = t.token(user: TestApp.otherUser)
        #expect(patch(t, location, offset: 0, [1], token: other).status == 404)
        let path = String(location.dropFirst("https://depot.test".count))
        #expect(t.request("DELETE", path, token: other, headers: Self.tus).status == 404)
        #expect(t.request("DELETE", path, token: t.token(), headers: Self.tus).status == 204)
        #expect(t.request("HEAD", path, token: t.token(), headers: Self.tus).status == 404)
        #expect(try t.metadata.reservations().isEmpty)
    }

    @Test func expiredUploadsAreGoneAndTheCleanUpFreesThem() throws {
        let t = try TestApp()
        let location = try #require(create(t, length: 1000).header("Location"))
        #expect(patch(t, location, offset: 0, [UInt8](repeating: 7, count: 400)).status == 204)
        t.now += TimeInterval(t.config.resumableExpirySeconds + 1)
        let path = String(location.dropFirst("https://depot.test".count))
        #expect(t.request("HEAD", path, token: t.token(), headers: Self.tus).status == 404)
        let report = try Maintenance(config: t.config, metadata: t.metadata, store: t.store).collectGarbage(now: t.now)
        #expect(report.expiredUploads.count == 1)
        #expect(try t.metadata.reservations().isEmpty)
        #expect(t.store.objects.isEmpty && t.store.multipart.isEmpty)
    }
}

@Suite struct TusProtocolTests {
    @Test func metadataPairsAreDecodedStrictly() throws {
        #expect(try TusHeaders.metadata("filename bm90ZXMudHh0,is_confidential") == ["filename": "notes.txt", "is_confidential": ""])
        #expect(try TusHeaders.metadata("filename") == ["filename": ""]) // a key without a value
        let refused = [
            "filename bm90ZXM=,filename bm90ZXM=",        // a key twice
            "filename not*base64",                         // not base64
            "filename " + Data([0x41, 0x0a]).base64EncodedString(), // a control character
            "filename " + Data([0xff, 0xfe]).base64EncodedString(), // not UTF-8
            "file name bm90ZXM=",                          // three pieces
            ",filename bm90ZXM=",                          // an empty pair
            "fil\u{e9}name bm90ZXM=",                      // a non-ASCII key
            "k " + String(repeating: "A", count: 5000),    // too long
        ]
        for header in refused {
            #expect(throws: APIError.self, "\(header.prefix(40))") { try TusHeaders.metadata(header) }
        }
    }

    @Test func integersAreDigitsOnly() throws {
        func request(_ value: String) -> HTTPRequest {
            HTTPRequest(method: "POST", rawPath: "/", query: QueryParameters(""), headers: HTTPHeaders([("Upload-Length", value)]), requestID: "r")
        }
        #expect(try TusHeaders.integer(request("0"), "upload-length") == 0)
        #expect(try TusHeaders.integer(request("5368709120"), "upload-length") == 5_368_709_120)
        for bad in ["-1", "+1", " 1", "1e3", "0x10", "", "99999999999999999999", "1.0"] {
            #expect(throws: APIError.self, "\(bad)") { try TusHeaders.integer(request(bad), "upload-length") }
        }
    }

    @Test func checksumsNameASupportedAlgorithmAndAWholeDigest() throws {
        let sha1 = Data(DigestHasher.hash(.sha1, Array("abc".utf8))).base64EncodedString()
        #expect(try TusProtocol.checksum("sha1 " + sha1)?.1 == DigestHasher.hash(.sha1, Array("abc".utf8)))
        #expect(try TusProtocol.checksum(nil) == nil)
        for bad in ["sha1", "sha1 " + sha1 + " x", "md5 " + sha1, "sha256 " + sha1, "sha1 ***"] {
            #expect(throws: APIError.self, "\(bad)") { try TusProtocol.checksum(bad) }
        }
    }
}
