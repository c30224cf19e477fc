import DepotDomain
import DepotMetadata
@testable import DepotService
import Foundation
import Testing

@Suite struct DownloadLinkRoutesTests {
    /// A presigned link for the caller's file: its id and its path (host dropped).
    private func presign(_ t: TestApp, _ name: String, query: String = "", user: String = TestApp.user) throws -> (id: String, path: String) {
        let response = t.get("/api/v1/storage/objects/\(name)/presigned-url\(query)", token: t.token(user: user))
        let id = try #require(response.json["id"] as? String)
        let url = try #require(response.json["url"] as? String)
        return (id, String(url.dropFirst("https://depot.test".count)))
    }

    private func links(_ t: TestApp, user: String = TestApp.user) throws -> [[String: Any]] {
        let response = t.get("/api/v1/storage/links", token: t.token(user: user))
        #expect(response.status == 200)
        return try #require(response.json["links"] as? [[String: Any]])
    }

    @Test func presignedLinksAreListedNewestFirst() throws {
        // Each presigned-url answer carries an id; the listing shows the caller's unexpired links with key, type and times.
        let t = try TestApp()
        let record = try t.uploadFile()
        let name = try #require(record["object_name"] as? String), key = try #require(record["object_key"] as? String)
        let first = try presign(t, name, query: "?expires_in=60")
        #expect(UUIDs.canonical(first.id) == first.id)
        t.now += 1
        let second = try presign(t, name, query: "?type=inline")
        let listed = try links(t)
        #expect(listed.map { $0["id"] as? String } == [second.id, first.id])
        #expect(listed[0]["object_key"] as? String == key && listed[0]["type"] as? String == "inline")
        #expect(listed[0]["created_at"] as? String == Timestamps.rfc3339(1_800_000_001))
        #expect(listed[0]["expires_at"] as? String == Timestamps.rfc3339(1_800_000_001 + 3600))
        #expect(try links(t, user: TestApp.otherUser).isEmpty)
        t.now += 60
        #expect(try links(t).map { $0["id"] as? String } == [second.id])
    }

    @Test func revokedLinkGets404() throws {
        // DELETE by its maker is 204 and the URL then answers 404; other links keep working.
        let t = try TestApp()
        let name = try #require(try t.uploadFile()["object_name"] as? String)
        let revoked = try presign(t, name), kept = try presign(t, name, query: "?type=inline")
        #expect(t.get(revoked.path).status == 200)
        #expect(t.request("DELETE", "/api/v1/storage/links/\(revoked.id)", token: t.token()).status == 204)
        let refused = t.get(revoked.path)
        #expect(refused.status == 404 && refused.errorCode == "not_found")
        #expect(t.get(kept.path).status == 200)
        #expect(try links(t).map { $0["id"] as? String } == [kept.id])
    }

    @Test func revokingIsForTheMakerOnly() throws {
        // Another user's link and an unknown id are 404, a second revoke too; a malformed id is 400.
        let t = try TestApp()
        let name = try #require(try t.uploadFile()["object_name"] as? String)
        let link = try presign(t, name)
        #expect(t.request("DELETE", "/api/v1/storage/links/\(link.id)", token: t.token(user: TestApp.otherUser)).errorCode == "not_found")
        #expect(t.request("DELETE", "/api/v1/storage/links/\(link.id)", token: t.token(org: TestApp.otherOrg)).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/links/\(UUIDs.random())", token: t.token()).status == 404)
        let malformed = t.request("DELETE", "/api/v1/storage/links/not-a-uuid", token: t.token())
        #expect(malformed.status == 400 && malformed.errorCode == "invalid_parameter")
        #expect(t.get(link.path).status == 200)
        #expect(t.request("DELETE", "/api/v1/storage/links/\(link.id.uppercased())", token: t.token()).status == 204)
        #expect(t.request("DELETE", "/api/v1/storage/links/\(link.id)", token: t.token()).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/links/\(link.id)").status == 401)
    }

    @Test func aValidSignatureWithoutItsRecordIsRefused() throws {
        // A correctly signed URL that was never recorded (or was purged) is 404: the record is required too.
        let t = try TestApp()
        let key = try #require(try t.uploadFile()["object_key"] as? String)
        let expires = Int64(t.now.timeIntervalSince1970) + 600
        let signature = DownloadLinkSigner(secret: t.config.linkSigningSecret).signature(objectKey: key, disposition: .attachment, expires: expires)
        #expect(t.get("/api/v1/objects/download?objectKey=\(key)&type=attachment&expires=\(expires)&signature=\(signature)").status == 404)
    }

    @Test func deletingTheFileTakesItsLinks() throws {
        // Once the file is deleted its links are neither listed nor usable.
        let t = try TestApp()
        let name = try #require(try t.uploadFile()["object_name"] as? String)
        let link = try presign(t, name)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(name)", token: t.token()).status == 204)
        #expect(try links(t).isEmpty)
        #expect(t.get(link.path).status == 404)
    }

    @Test func linkSecretFileSignsTheLinks() throws {
        // With [encryption] link_secret_file the links are signed with it, not with the master-key-derived secret.
        let secret = String(repeating: "5a", count: 32)
        let t = try TestApp(extraConfig: "[encryption]\nlink_secret_file = link.key\n", files: ["link.key": secret + "\n"])
        #expect(t.config.linkSigningSecret == [UInt8](repeating: 0x5a, count: 32))
        #expect(t.config.linkSigningSecret != t.config.masterKeys.linkSigningSecret)
        let record = try t.uploadFile()
        let name = try #require(record["object_name"] as? String), key = try #require(record["object_key"] as? String)
        let link = try presign(t, name)
        let expected = DownloadLinkSigner(secret: [UInt8](repeating: 0x5a, count: 32))
            .signature(objectKey: key, disposition: .attachment, expires: Int64(t.now.timeIntervalSince1970) + 3600)
        #expect(link.path.hasSuffix("&signature=" + expected))
        #expect(t.get(link.path).status == 200)
    }

    @Test func unusableLinkSecretFileIsAConfigurationError() throws {
        // A link secret shorter than 32 bytes, or not hex, refuses to load.
        let dir = try ConfigDirectory()
        for text in ["abcd", String(repeating: "zz", count: 32)] {
            try dir.write("link.key", text)
            #expect(throws: ConfigurationError.self) {
                try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + "\nlink_secret_file = link.key\n"))
            }
        }
    }
}
