import DepotHTTP
import DepotMetadata
@testable import DepotService
import Foundation
import Testing

@Suite struct UploadLinkRoutesTests {
    func makeLink(_ t: TestApp, _ json: String = "{}") -> TestResponse {
        t.request("POST", "/api/v1/storage/upload-urls", token: t.token(), headers: [("Content-Type", "application/json")],
                  body: TestApp.body(json))
    }

    func uploadWithLink(_ t: TestApp, _ url: String, _ file: [UInt8], fields: [(String, String)] = []) throws -> TestResponse {
        let body = TestApp.form(file, filename: "partner.txt", contentType: "text/plain", fields: fields)
        let path = t.directory.url.appendingPathComponent("body-\(UUID().uuidString)").path
        try Data(body).write(to: URL(fileURLWithPath: path))
        return t.request("POST", String(url.dropFirst("https://depot.test".count)),
                         headers: [("Content-Type", "multipart/form-data; boundary=\(TestApp.boundary)")],
                         body: .file(path: path, length: Int64(body.count)))
    }

    @Test func aLinkStoresOneFileForItsMakerThenIsSpent() throws {
        let t = try TestApp()
        let link = makeLink(t, #"{"expires_in": 120, "max_size": 100}"#)
        #expect(link.status == 201)
        let url = try #require(link.json["url"] as? String)
        #expect(link.json["max_size"] as? Int == 100)
        let stored = try uploadWithLink(t, url, Array("from a partner".utf8))
        #expect(stored.status == 201, "\(stored.text)")
        #expect((stored.json["object_key"] as? String)?.hasPrefix("organizations/\(TestApp.org)/files/\(TestApp.user)/") == true)
        #expect(stored.response.logUserID == TestApp.user)
        #expect(try uploadWithLink(t, url, Array("again".utf8)).status == 401)
    }

    @Test func aFailedUploadGivesTheLinkBack() throws {
        let t = try TestApp()
        let url = try #require(makeLink(t, #"{"max_size": 10}"#).json["url"] as? String)
        #expect(try uploadWithLink(t, url, [UInt8](repeating: 1, count: 11)).status == 413)
        #expect(try uploadWithLink(t, url, [UInt8](repeating: 1, count: 10)).status == 201)
    }

    @Test func expiredRevokedAndAlteredLinksAre401() throws {
        let t = try TestApp()
        let expiring = try #require(makeLink(t, #"{"expires_in": 5}"#).json["url"] as? String)
        let revoked = makeLink(t)
        let revokedURL = try #require(revoked.json["url"] as? String)
        let id = try #require(revoked.json["id"] as? String)
        #expect(t.request("DELETE", "/api/v1/storage/upload-urls/\(id)", token: t.token(user: TestApp.otherUser)).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/upload-urls/\(id)", token: t.token()).status == 204)
        #expect(try uploadWithLink(t, revokedURL, [1]).status == 401)
        t.now += 6
        #expect(try uploadWithLink(t, expiring, [1]).status == 401)
        let good = try #require(makeLink(t).json["url"] as? String)
        let altered = String(good.dropLast()) + (good.last == "A" ? "B" : "A")
        #expect(try uploadWithLink(t, altered, [1]).status == 401)
        #expect(try t.metadata.reservations().isEmpty)
    }
}
