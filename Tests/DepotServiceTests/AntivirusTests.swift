import DepotAntivirus
import DepotHTTP
import DepotMetadata
@testable import DepotService
import Foundation
import Testing

/// Malware scanning on every upload route (CONTRACT.md, "Malware
/// scanning"), with a scanner in memory standing in for clamd.
@Suite struct AntivirusTests {
    static let eicar = Array(#"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#.utf8)
    static let clean = Array("a,b\n1,2\n".utf8)

    func app(failOpen: Bool = false, extra: String = "") throws -> (TestApp, FakeScanner) {
        let scanner = FakeScanner()
        let t = try TestApp(extraConfig: "\n[antivirus]\nclamd_socket = /nonexistent/clamd.ctl\nfail_open = \(failOpen)\n" + extra,
                            scanner: scanner)
        return (t, scanner)
    }

    /// Nothing of the upload is left: no record, no object, no multipart
    /// upload, no reservation, no usage.
    func expectNothingStored(_ t: TestApp, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let usage = try #require(try t.metadata.usage(organizationID: TestApp.org, userID: TestApp.user))
        #expect(usage.usedBytes == 0, sourceLocation: sourceLocation)
        #expect(usage.reservedBytes == 0, sourceLocation: sourceLocation)
        #expect(usage.fileCount == 0, sourceLocation: sourceLocation)
        #expect(try t.metadata.reservations().isEmpty, sourceLocation: sourceLocation)
        #expect(t.store.objects.isEmpty, "\(t.store.objects.keys)", sourceLocation: sourceLocation)
        #expect(t.store.multipart.isEmpty, sourceLocation: sourceLocation)
    }

    func metric(_ t: TestApp, _ name: String) -> String? {
        t.get("/metrics").text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
    }

    @Test func infectedUploadIsRefusedAndNothingStored() throws {
        // EICAR through POST /upload: 422 malware_detected, no trace of it.
        let (t, scanner) = try app()
        let r = try t.upload(Self.eicar, filename: "eicar.com", token: t.token())
        #expect(r.status == 422, "\(r.text)")
        #expect(r.errorCode == "malware_detected")
        #expect(r.text.contains("Eicar-Test-Signature"))
        #expect(scanner.scanned == [Self.eicar])
        try expectNothingStored(t)
        #expect(metric(t, "depot_antivirus_infected_total") == "1")
        #expect(metric(t, "depot_antivirus_files_scanned_total") == "1")
    }

    @Test func cleanUploadIsScannedAndStored() throws {
        // A clean file is scanned byte for byte, then stored as usual.
        let (t, scanner) = try app()
        let r = try t.upload(Self.clean, token: t.token())
        #expect(r.status == 201, "\(r.text)")
        #expect(scanner.scanned == [Self.clean])
        #expect(t.store.objects.count == 1)
        #expect(metric(t, "depot_antivirus_files_scanned_total") == "1")
        #expect(metric(t, "depot_antivirus_infected_total") == "0")
    }

    @Test func streamedInfectedUploadAbortsItsMultipartUpload() throws {
        // A file above the multipart threshold streams to the store while it
        // is scanned; the verdict comes before the upload is completed.
        let (t, scanner) = try app(extra: "[store]\nmultipart_threshold = 1MiB\npart_size = 5MiB\n")
        let file = [UInt8](repeating: 0x41, count: 12 << 20) + Self.eicar
        let body = TestApp.form(file, filename: "big.bin", contentType: "application/octet-stream")
        let (r, _) = t.streamedUpload(body, declaredLength: Int64(body.count), token: t.token())
        #expect(r.status == 422, "\(r.text)")
        #expect(r.errorCode == "malware_detected")
        #expect(!t.store.partsSent.isEmpty)  // it did stream
        #expect(scanner.scanned.first?.count == file.count)
        try expectNothingStored(t)
    }

    @Test func scannerDownFailsClosed() throws {
        // clamd unreachable: 503 with Retry-After, nothing stored, an error counted.
        let (t, scanner) = try app()
        scanner.isDown = true
        let r = try t.upload(Self.clean, token: t.token())
        #expect(r.status == 503, "\(r.text)")
        #expect(r.errorCode == "scanner_unavailable")
        #expect(r.header("Retry-After") != nil)
        try expectNothingStored(t)
        #expect(metric(t, "depot_antivirus_errors_total") == "1")
    }

    @Test func scannerDownFailsOpenWhenConfigured() throws {
        // fail_open = true: the file is stored unscanned, and counted as such.
        let (t, scanner) = try app(failOpen: true)
        scanner.isDown = true
        let r = try t.upload(Self.clean, token: t.token())
        #expect(r.status == 201, "\(r.text)")
        #expect(t.store.objects.count == 1)
        #expect(metric(t, "depot_antivirus_errors_total") == "1")
        #expect(metric(t, "depot_antivirus_let_through_total") == "1")
    }

    @Test func fileAboveTheScannersLimitIsRefusedFromItsLength() throws {
        // Above clamd's StreamMaxLength: 413 file_too_large_to_scan, even when failing open.
        let (t, _) = try app(failOpen: true, extra: "[antivirus]\nstream_max_length = 64\n")
        let r = try t.upload([UInt8](repeating: 1, count: 2 << 20), token: t.token())
        #expect(r.status == 413, "\(r.text)")
        #expect(r.errorCode == "file_too_large_to_scan")
        let (streamed, _) = t.streamedUpload(TestApp.form([UInt8](repeating: 1, count: 200)), declaredLength: nil, token: t.token())
        #expect(streamed.status == 413, "\(streamed.text)")
        #expect(streamed.errorCode == "file_too_large_to_scan")
        try expectNothingStored(t)
        let tus = t.request("POST", "/api/v1/storage/uploads", token: t.token(),
                            headers: [("Tus-Resumable", "1.0.0"), ("Upload-Length", "200"),
                                      ("Upload-Metadata", "filename " + Data("x.bin".utf8).base64EncodedString())])
        #expect(tus.status == 413)
        #expect(tus.errorCode == "file_too_large_to_scan")
    }

    @Test func infectedUploadThroughALinkLeavesTheLinkUnspent() throws {
        // A signed upload link: EICAR is refused and the link can still bring a clean file.
        let (t, _) = try app()
        let json = Array("{}".utf8)
        var sent = false
        let made = t.request("POST", "/api/v1/storage/upload-urls", token: t.token(), headers: [("Content-Type", "application/json")],
                             body: .stream(length: Int64(json.count)) { buffer in
                                 guard !sent else { return 0 }
                                 sent = true
                                 json.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: json.count) }
                                 return json.count
                             })
        let url = try #require(made.json["url"] as? String)
        func send(_ file: [UInt8]) throws -> TestResponse {
            let body = TestApp.form(file, filename: "partner.txt", contentType: "text/plain")
            let path = t.directory.url.appendingPathComponent("body-\(UUID().uuidString)").path
            try Data(body).write(to: URL(fileURLWithPath: path))
            return t.request("POST", String(url.dropFirst("https://depot.test".count)),
                             headers: [("Content-Type", "multipart/form-data; boundary=\(TestApp.boundary)")],
                             body: .file(path: path, length: Int64(body.count)))
        }
        let refused = try send(Self.eicar)
        #expect(refused.status == 422, "\(refused.text)")
        #expect(refused.errorCode == "malware_detected")
        try expectNothingStored(t)
        #expect(try send(Self.clean).status == 201)
    }

    @Test func infectedResumableUploadIsRemovedAtCompletion() throws {
        // tus: the completing PATCH gets 422; the upload, its object and its reservation are gone.
        let (t, scanner) = try app()
        let resumable = ResumableUploadRoutesTests()
        let created = resumable.create(t, length: Self.eicar.count, metadata: [("filename", "eicar.com")])
        #expect(created.status == 201)
        let location = try #require(created.header("Location"))
        let half = Self.eicar.count / 2
        #expect(resumable.patch(t, location, offset: 0, Array(Self.eicar[..<half])).status == 204)
        let r = resumable.patch(t, location, offset: half, Array(Self.eicar[half...]))
        #expect(r.status == 422, "\(r.text)")
        #expect(r.errorCode == "malware_detected")
        #expect(r.header("Tus-Resumable") == "1.0.0")
        #expect(scanner.scanned == [Self.eicar])
        let path = String(location.dropFirst("https://depot.test".count))
        #expect(t.request("HEAD", path, token: t.token(), headers: ResumableUploadRoutesTests.tus).status == 404)
        try expectNothingStored(t)
    }

    @Test func resumableUploadWaitsForTheScannerThenCompletes() throws {
        // tus with clamd down: the completing PATCH gets 503 and no file; once
        // clamd is back, HEAD finishes the upload into a file.
        let (t, scanner) = try app()
        let resumable = ResumableUploadRoutesTests()
        let created = resumable.create(t, length: Self.clean.count)
        let location = try #require(created.header("Location"))
        scanner.isDown = true
        let r = resumable.patch(t, location, offset: 0, Self.clean)
        #expect(r.status == 503, "\(r.text)")
        #expect(r.errorCode == "scanner_unavailable")
        #expect(try t.metadata.usage(organizationID: TestApp.org, userID: TestApp.user)?.fileCount == 0)
        scanner.isDown = false
        let path = String(location.dropFirst("https://depot.test".count))
        #expect(t.request("HEAD", path, token: t.token(), headers: ResumableUploadRoutesTests.tus).status == 200)
        let upload = try #require(try t.metadata.resumableUpload(id: String(location.split(separator: "/").last!)))
        #expect(upload.fileID != nil)
        #expect(scanner.scanned == [Self.clean])
    }

    @Test func creationWithUploadOfMalwareIsRefused() throws {
        // tus creation-with-upload carrying the whole infected file: 422, not a 201 for an upload that is gone.
        let (t, _) = try app()
        let bytes = Self.eicar
        var position = 0
        let r = t.request("POST", "/api/v1/storage/uploads", token: t.token(),
                          headers: ResumableUploadRoutesTests.tus + [
                              ("Upload-Length", String(bytes.count)), ("Content-Type", "application/offset+octet-stream"),
                              ("Content-Length", String(bytes.count)),
                              ("Upload-Metadata", "filename " + Data("eicar.com".utf8).base64EncodedString())],
                          body: .stream(length: Int64(bytes.count)) { buffer in
                              let n = min(buffer.count, bytes.count - position)
                              bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
                              position += n
                              return n
                          })
        #expect(r.status == 422, "\(r.text)")
        #expect(r.errorCode == "malware_detected")
        try expectNothingStored(t)
    }
}
