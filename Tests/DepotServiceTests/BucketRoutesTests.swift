import Foundation
import Testing

@Suite struct BucketRoutesTests {
    @Test func bucketsAreListed() throws {
        // The configured bucket, with the time Depot first used it.
        let t = try TestApp()
        let response = t.get("/api/v1/storage/buckets", token: t.token())
        #expect(response.status == 200)
        let buckets = response.json["buckets"] as? [[String: Any]]
        #expect(buckets?.first?["name"] as? String == "depot")
        #expect(t.get("/api/v1/storage/buckets").status == 401)
    }

    @Test func objectsListingStaysInTheCallersFolder() throws {
        // The caller sees their own objects with the recorded content type; an unknown bucket is 404.
        let t = try TestApp()
        let record = try t.uploadFile()
        try t.uploadFile("other", user: TestApp.otherUser)
        let response = t.get("/api/v1/storage/buckets/depot/objects", token: t.token())
        #expect(response.status == 200)
        let objects = response.json["objects"] as? [[String: Any]]
        #expect(objects?.count == 1)
        #expect(objects?.first?["key"] as? String == record["object_key"] as? String)
        #expect(objects?.first?["content_type"] as? String == "text/csv")
        #expect(t.get("/api/v1/storage/buckets/elsewhere/objects", token: t.token()).status == 404)
    }

    @Test func foreignKeysFromTheStoreAreDropped() throws {
        // Even if the store answers with keys outside the prefix, none outside the caller's folder leaves the worker.
        let t = try TestApp()
        try t.uploadFile()
        t.store.extraListedKeys = ["organizations/\(TestApp.otherOrg)/files/\(TestApp.otherUser)/secret.txt"]
        let objects = t.get("/api/v1/storage/buckets/depot/objects", token: t.token()).json["objects"] as? [[String: Any]]
        #expect(objects?.count == 1)
        #expect(objects?.contains { ($0["key"] as? String)?.contains(TestApp.otherOrg) == true } == false)
    }

    @Test func prefixAndTokenAreChecked() throws {
        // A prefix leaving the folder lists nothing; control characters and unknown tokens are 400.
        let t = try TestApp()
        try t.uploadFile()
        let outside = t.get("/api/v1/storage/buckets/depot/objects?prefix=organizations/\(TestApp.otherOrg)/", token: t.token())
        #expect(outside.status == 200 && (outside.json["objects"] as? [Any])?.isEmpty == true)
        #expect(t.get("/api/v1/storage/buckets/depot/objects?prefix=%01", token: t.token()).status == 400)
        #expect(t.get("/api/v1/storage/buckets/depot/objects?continuation_token=bogus", token: t.token()).status == 400)
        #expect(t.get("/api/v1/storage/buckets/depot/objects?limit=0", token: t.token()).status == 400)
    }
}
