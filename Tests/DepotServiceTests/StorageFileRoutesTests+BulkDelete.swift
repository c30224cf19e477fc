import DepotHTTP
import Foundation
import Testing

extension StorageFileRoutesTests {
    func bulkDelete(_ t: TestApp, _ body: String, token: String? = nil) -> TestResponse {
        t.request("POST", "/api/v1/storage/objects/delete", token: token ?? t.token(),
                  headers: [("Content-Type", "application/json")], body: TestApp.body(body))
    }

    func json(_ names: [String]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: ["object_names": names]), as: UTF8.self)
    }

    @Test func bulkDeleteReportsDeletedAndNotFoundOnce() throws {
        // Names and full keys are deleted, unknown and foreign names are not_found, duplicates are reported once.
        let t = try TestApp()
        let a = try t.uploadFile("aaa", filename: "a.csv")
        let b = try t.uploadFile("bb", filename: "b.csv")
        let kept = try t.uploadFile("c", filename: "c.csv")
        let theirs = try t.uploadFile("d", filename: "d.csv", user: TestApp.otherUser)
        let names = [a["object_name"] as! String, b["object_key"] as! String, a["object_name"] as! String, "missing_20260101_000000_00000000.csv",
                     theirs["object_key"] as! String, "report.csv"]
        let response = bulkDelete(t, json(names))
        #expect(response.status == 200)
        #expect(response.json["deleted"] as? [String] == [names[0], names[1]])
        #expect(response.json["not_found"] as? [String] == [names[3], names[4], names[5]])
        for gone in [a, b] { #expect(t.store.objects[gone["object_key"] as! String] == nil) }
        #expect(t.store.objects[kept["object_key"] as! String] != nil && t.store.objects[theirs["object_key"] as! String] != nil)
        let usage = t.get("/api/v1/storage/usage", token: t.token()).json
        #expect(usage["user_used_bytes"] as? Int == 1 && usage["used_bytes"] as? Int == 2)
    }

    @Test func bulkDeleteRefusesBadBodiesAndDeletesNothing() throws {
        // Malformed JSON, wrong types, 0 or 1001 names, and a name with .. or a control character are refused; every file stays.
        let t = try TestApp()
        let a = try t.uploadFile()
        let name = a["object_name"] as! String
        let cases: [(String, Int)] = [
            ("{", 400), ("[]", 400), ("{\"names\": []}", 400), ("{\"object_names\": \"x\"}", 422),
            ("{\"object_names\": [1]}", 422), ("{\"object_names\": []}", 422), (json(Array(repeating: name, count: 1001)), 422),
            (json([name, "../x"]), 400), (json([name, "a\u{0}b"]), 400), (json([name, "a\u{1B}b"]), 400),
        ]
        for (body, status) in cases {
            let response = bulkDelete(t, body)
            #expect(response.status == status, "\(body.prefix(40))")
            #expect(response.json["error"] != nil, "\(body.prefix(40))")
        }
        #expect(t.store.objects[a["object_key"] as! String] != nil)
        #expect(bulkDelete(t, json([name]), token: "bad").status == 401)
        #expect(t.get("/api/v1/storage/usage", token: t.token()).json["file_count"] as? Int == 1)
    }

    @Test func bulkDeleteTakesWorkflowKeysForUploaderAndAdmin() throws {
        // A workflow file's key deletes for an admin of the organization; a bare original name never matches it.
        let t = try TestApp()
        let response = try t.upload(Array("wf".utf8), filename: "report.csv",
                                    fields: [("workflow_id", WorkflowRoutesTests.workflow), ("run_id", WorkflowRoutesTests.run), ("direction", "input")],
                                    token: t.token(user: TestApp.otherUser))
        let key = response.json["object_key"] as! String
        let member = bulkDelete(t, json([key, "report.csv"]))
        #expect(member.json["not_found"] as? [String] == [key, "report.csv"])
        let admin = bulkDelete(t, json([key]), token: t.token(admin: true))
        #expect(admin.json["deleted"] as? [String] == [key])
        #expect(t.store.objects[key] == nil)
    }
}
