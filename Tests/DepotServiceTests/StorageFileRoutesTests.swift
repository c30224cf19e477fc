import Foundation
import Testing

@Suite struct StorageFileRoutesTests {
    @Test func listPagesTheCallersOwnFiles() throws {
        // Three files, pages of two: totals and pages as the contract states; another user's file never shows.
        let t = try TestApp()
        for i in 0..<3 { try t.uploadFile("file \(i)", filename: "f\(i).txt") }
        try t.uploadFile("not mine", user: TestApp.otherUser)
        let first = t.get("/api/v1/storage/files?page_size=2", token: t.token())
        #expect(first.status == 200)
        let pagination = first.json["pagination"] as? [String: Any]
        #expect(pagination?["total"] as? Int == 3 && pagination?["total_pages"] as? Int == 2)
        #expect((first.json["files"] as? [Any])?.count == 2)
        let second = t.get("/api/v1/storage/files?page_size=2&page=2", token: t.token())
        #expect((second.json["files"] as? [Any])?.count == 1)
    }

    @Test func listRejectsUnusableParameters() throws {
        // Out-of-range pages, unknown categories and sort orders are 400 invalid_parameter.
        let t = try TestApp()
        for query in ["page=0", "page_size=101", "page_size=x", "category=music", "sort=name", "order=up"] {
            let response = t.get("/api/v1/storage/files?\(query)", token: t.token())
            #expect(response.status == 400 && response.errorCode == "invalid_parameter", "\(query)")
        }
    }

    @Test func metadataOfOwnFileByNameOrKey() throws {
        // The record is found by its object name and by its full key; another user's name is 404.
        let t = try TestApp()
        let record = try t.uploadFile()
        let name = try #require(record["object_name"] as? String)
        let key = try #require(record["object_key"] as? String)
        let byName = t.get("/api/v1/storage/objects/\(name)/metadata", token: t.token())
        #expect(byName.status == 200 && byName.json["object_key"] as? String == key)
        let encodedKey = key.replacingOccurrences(of: "/", with: "%2F")
        #expect(t.get("/api/v1/storage/objects/\(encodedKey)/metadata", token: t.token()).status == 200)
        #expect(t.get("/api/v1/storage/objects/\(name)/metadata", token: t.token(user: TestApp.otherUser)).status == 404)
    }

    @Test func metadataMakesSureOfTheAccountUnlessItAnswersTheOwnersFile() throws {
        // A caller seen for the first time gets their account whatever the
        // answer (404, 400); an offboarded user's read finds nothing and
        // their account back empty, as on any other route.
        let t = try TestApp()
        let newcomer = "55555555-5555-4555-8555-555555555555"
        #expect(t.get("/api/v1/storage/objects/nothing.csv/metadata", token: t.token(user: newcomer)).status == 404)
        #expect(try t.metadata.users(organizationID: TestApp.org) == [newcomer])
        let stranger = "66666666-6666-4666-8666-666666666666"
        #expect(t.get("/api/v1/storage/objects/%FF/metadata", token: t.token(user: stranger, org: TestApp.otherOrg)).status == 400)
        #expect(try t.metadata.users(organizationID: TestApp.otherOrg) == [stranger])

        let name = try #require(try t.uploadFile()["object_name"] as? String)
        #expect(t.get("/api/v1/storage/objects/\(name)/metadata", token: t.token()).status == 200)
        _ = try t.metadata.offboard(.user(organizationID: TestApp.org, userID: TestApp.user), now: Int64(t.now.timeIntervalSince1970))
        #expect(try !t.metadata.users(organizationID: TestApp.org).contains(TestApp.user))
        #expect(t.get("/api/v1/storage/objects/\(name)/metadata", token: t.token()).status == 404)
        #expect(try t.metadata.users(organizationID: TestApp.org).contains(TestApp.user))
        #expect(t.get("/api/v1/storage/usage", token: t.token()).json["user_file_count"] as? Int == 0)
    }

    @Test func listingMakesSureOfTheAccountUnlessItShowsTheCallersOwnFiles() throws {
        // A first listing (empty, or refused for its parameters) still
        // creates the account; a page of the caller's files proves it exists.
        let t = try TestApp()
        let newcomer = "55555555-5555-4555-8555-555555555555"
        let empty = t.get("/api/v1/storage/files", token: t.token(user: newcomer))
        #expect(empty.status == 200 && (empty.json["files"] as? [Any])?.isEmpty == true)
        #expect(try t.metadata.users(organizationID: TestApp.org) == [newcomer])
        let stranger = "66666666-6666-4666-8666-666666666666"
        #expect(t.get("/api/v1/storage/files?page_size=0", token: t.token(user: stranger, org: TestApp.otherOrg)).status == 400)
        #expect(try t.metadata.users(organizationID: TestApp.otherOrg) == [stranger])

        _ = try t.uploadFile()
        #expect((t.get("/api/v1/storage/files", token: t.token()).json["files"] as? [Any])?.count == 1)
        _ = try t.metadata.offboard(.user(organizationID: TestApp.org, userID: TestApp.user), now: Int64(t.now.timeIntervalSince1970))
        let after = t.get("/api/v1/storage/files", token: t.token())
        #expect(after.status == 200 && (after.json["files"] as? [Any])?.isEmpty == true)
        #expect(try t.metadata.users(organizationID: TestApp.org).contains(TestApp.user))
    }

    @Test func malformedObjectNamesAre400() throws {
        // Bad percent-encoding and traversal attempts are invalid_object_name, not a lookup.
        let t = try TestApp()
        for raw in ["%FF", "..", "a%00b"] {
            let response = t.get("/api/v1/storage/objects/\(raw)/metadata", token: t.token())
            #expect(response.status == 400 && response.errorCode == "invalid_object_name", "\(raw)")
        }
    }

    @Test func deleteFreesQuotaAndRemovesTheObject() throws {
        // 204, then the record is gone (404), the usage is back to zero and the store no longer has the object.
        let t = try TestApp()
        let record = try t.uploadFile("12345")
        let name = try #require(record["object_name"] as? String)
        let key = try #require(record["object_key"] as? String)
        #expect(t.store.objects[key] != nil)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(name)", token: t.token()).status == 204)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(name)", token: t.token()).status == 404)
        #expect(t.store.objects[key] == nil)
        #expect(t.get("/api/v1/storage/usage", token: t.token()).json["used_bytes"] as? Int == 0)
        #expect(try t.metadata.pendingDeletes().isEmpty)
    }

    @Test func deleteWhileTheStoreIsDownQueuesTheObject() throws {
        // The record goes at once; the object waits as a pending delete for the clean-up pass.
        let t = try TestApp()
        let record = try t.uploadFile()
        let name = try #require(record["object_name"] as? String)
        t.store.isDown = true
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(name)", token: t.token()).status == 204)
        #expect(try t.metadata.pendingDeletes().map(\.objectKey) == [record["object_key"] as? String])
    }

    @Test func presignedURLIsASignedDownloadLink() throws {
        // The link points at the public download route, expires as asked, and its signature opens the download.
        let t = try TestApp()
        let record = try t.uploadFile()
        let name = try #require(record["object_name"] as? String)
        let response = t.get("/api/v1/storage/objects/\(name)/presigned-url?expires_in=600&type=inline", token: t.token())
        #expect(response.status == 200)
        #expect(response.json["expires_in"] as? Int == 600)
        let url = try #require(response.json["url"] as? String)
        #expect(url.hasPrefix("https://depot.test/api/v1/objects/download?objectKey="))
        let download = t.get(String(url.dropFirst("https://depot.test".count)))
        #expect(download.status == 200 && download.header("X-Accel-Redirect") != nil)
        #expect(t.get("/api/v1/storage/objects/\(name)/presigned-url?expires_in=0", token: t.token()).status == 400)
        #expect(t.get("/api/v1/storage/objects/\(name)/presigned-url?expires_in=604801", token: t.token()).status == 400)
    }
}
