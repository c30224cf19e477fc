import DepotEncoding
import Foundation
import Testing

@Suite struct WorkflowRoutesTests {
    static let workflow = "5a5a5a5a-0000-4000-8000-000000000001"
    static let run = "6b6b6b6b-0000-4000-8000-000000000001"
    static let otherRun = "6b6b6b6b-0000-4000-8000-000000000002"

    /// Uploads a workflow file and returns its record.
    @discardableResult
    func upload(_ t: TestApp, _ text: String = "x", filename: String = "report.csv", run: String = WorkflowRoutesTests.run,
                direction: String = "output", user: String = TestApp.user) throws -> [String: Any] {
        let response = try t.upload(Array(text.utf8), filename: filename,
                                    fields: [("workflow_id", Self.workflow), ("run_id", run), ("direction", direction)],
                                    token: t.token(user: user))
        guard response.status == 201 else { throw TestFailure("upload answered \(response.status): \(response.text)") }
        return response.json
    }

    func files(_ response: TestResponse) -> [[String: Any]] { response.json["files"] as? [[String: Any]] ?? [] }

    @Test func aBareNameNeverMatchesAWorkflowFile() throws {
        // Regression: DELETE /objects/report.csv once deleted the caller's workflow file named report.csv.
        let t = try TestApp()
        let record = try upload(t)
        #expect(t.get("/api/v1/storage/objects/report.csv/metadata", token: t.token()).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/objects/report.csv", token: t.token()).status == 404)
        #expect(t.store.objects[record["object_key"] as! String] != nil)
        #expect(t.get("/api/v1/storage/usage", token: t.token()).json["file_count"] as? Int == 1)
    }

    @Test func workflowKeyReachesItsUploaderAndAdminsOnly() throws {
        // By its full key: the uploader and an admin read the metadata; another member and another organization get 404.
        let t = try TestApp()
        let record = try upload(t)
        let key = PercentEncoding.encode(record["object_key"] as! String)
        let path = "/api/v1/storage/objects/\(key)/metadata"
        #expect(t.get(path, token: t.token()).json["id"] as? String == record["id"] as? String)
        #expect(t.get(path, token: t.token(user: TestApp.otherUser, admin: true)).status == 200)
        #expect(t.get(path, token: t.token(user: TestApp.otherUser)).status == 404)
        #expect(t.get(path, token: t.token(org: TestApp.otherOrg, admin: true)).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(key)", token: t.token(user: TestApp.otherUser)).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(key)", token: t.token(org: TestApp.otherOrg, admin: true)).status == 404)
        // Presigning stays the owner's own files' route.
        #expect(t.get("/api/v1/storage/objects/\(key)/presigned-url", token: t.token()).status == 404)
    }

    @Test func uploaderOrAdminDeletesAWorkflowFileByKey() throws {
        // DELETE with the key: 204, the object and the quota go; a second DELETE is 404.
        let t = try TestApp()
        let mine = try upload(t, "12345")
        let theirs = try upload(t, "123", filename: "b.csv", user: TestApp.otherUser)
        let mineKey = PercentEncoding.encode(mine["object_key"] as! String)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(mineKey)", token: t.token()).status == 204)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(mineKey)", token: t.token()).status == 404)
        #expect(t.store.objects[mine["object_key"] as! String] == nil)
        let theirsKey = PercentEncoding.encode(theirs["object_key"] as! String)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(theirsKey)", token: t.token(admin: true)).status == 204)
        let usage = t.get("/api/v1/storage/usage", token: t.token()).json
        #expect(usage["used_bytes"] as? Int == 0 && usage["file_count"] as? Int == 0)
    }

    @Test func listingShowsAMembersOwnFilesAndAnAdminAll() throws {
        // A member lists the workflow files they uploaded; an admin every member's; run and direction narrow it.
        let t = try TestApp()
        try upload(t, filename: "a.csv")
        try upload(t, filename: "b.csv", direction: "input")
        try upload(t, filename: "c.csv", run: Self.otherRun)
        try upload(t, filename: "theirs.csv", user: TestApp.otherUser)
        try t.uploadFile()
        let base = "/api/v1/storage/workflows/\(Self.workflow)/files"
        let mine = t.get(base, token: t.token())
        #expect(mine.status == 200)
        #expect(Set(files(mine).compactMap { $0["original_filename"] as? String }) == ["a.csv", "b.csv", "c.csv"])
        #expect((mine.json["pagination"] as? [String: Any])?["total"] as? Int == 3)
        let all = t.get(base, token: t.token(admin: true))
        #expect((all.json["pagination"] as? [String: Any])?["total"] as? Int == 4)
        let run = t.get(base + "?run_id=\(Self.run)&direction=output", token: t.token(admin: true))
        #expect(Set(files(run).compactMap { $0["original_filename"] as? String }) == ["a.csv", "theirs.csv"])
        let paged = t.get(base + "?page=2&page_size=2&order=asc", token: t.token())
        #expect(files(paged).count == 1)
        #expect((paged.json["pagination"] as? [String: Any])?["total_pages"] as? Int == 2)
        #expect(files(t.get(base, token: t.token(org: TestApp.otherOrg, admin: true))).isEmpty)
    }

    @Test func listingRejectsMalformedIdsAndParameters() throws {
        // Non-UUID workflow or run ids, an unknown direction and out-of-range pages are 400 JSON.
        let t = try TestApp()
        for path in ["/api/v1/storage/workflows/not-a-uuid/files", "/api/v1/storage/workflows/\(Self.workflow)/files?run_id=x",
                     "/api/v1/storage/workflows/\(Self.workflow)/files?direction=sideways",
                     "/api/v1/storage/workflows/\(Self.workflow)/files?page=0",
                     "/api/v1/storage/workflows/\(Self.workflow)/files?page_size=101",
                     "/api/v1/storage/workflows/\(Self.workflow)/files?order=up"] {
            let response = t.get(path, token: t.token())
            #expect(response.status == 400 && response.errorCode == "invalid_parameter", "\(path)")
        }
        #expect(t.request("DELETE", "/api/v1/storage/workflows/\(Self.workflow)/runs/..", token: t.token()).status == 400)
        #expect(t.get("/api/v1/storage/workflows/\(Self.workflow)/files").status == 401)
    }

    @Test func deletingARunRemovesTheCallersFilesOrAnAdminsAll() throws {
        // A member's run delete takes their files of that run only; an admin's takes the rest; counts and freed bytes are reported.
        let t = try TestApp()
        let a = try upload(t, "aaaa", filename: "a.csv")
        try upload(t, "bb", filename: "b.csv", direction: "input")
        let kept = try upload(t, "c", filename: "c.csv", run: Self.otherRun)
        try upload(t, "ddddddd", filename: "d.csv", user: TestApp.otherUser)
        let path = "/api/v1/storage/workflows/\(Self.workflow)/runs/\(Self.run)"
        let mine = t.request("DELETE", path, token: t.token())
        #expect(mine.status == 200)
        #expect(mine.json["deleted"] as? Int == 2 && mine.json["freed_bytes"] as? Int == 6)
        #expect(t.store.objects[a["object_key"] as! String] == nil)
        let admin = t.request("DELETE", path, token: t.token(admin: true))
        #expect(admin.json["deleted"] as? Int == 1 && admin.json["freed_bytes"] as? Int == 7)
        let again = t.request("DELETE", path, token: t.token(admin: true))
        #expect(again.status == 200 && again.json["deleted"] as? Int == 0 && again.json["freed_bytes"] as? Int == 0)
        #expect(t.store.objects[kept["object_key"] as! String] != nil)
        #expect(t.get("/api/v1/storage/usage", token: t.token()).json["used_bytes"] as? Int == 1)
        #expect(try t.metadata.pendingDeletes().isEmpty)
    }
}
