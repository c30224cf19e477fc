import DepotDomain
import DepotHTTP
@testable import DepotService
import Foundation
import Testing

/// `GET /storage/files?search=`: the console's search box.
@Suite struct FileSearchRoutesTests {
    func names(_ response: TestResponse) -> [String] {
        ((response.json["files"] as? [[String: Any]]) ?? []).compactMap { $0["original_filename"] as? String }
    }

    @Test func searchFindsTheCallersFilesByPartOfTheirNameInEveryScope() throws {
        let t = try TestApp()
        try t.uploadFile("a\n", filename: "Quarterly Report.csv")
        try t.uploadFile("b\n", filename: "notes.txt")
        try t.uploadFile("c\n", filename: "report-theirs.csv", user: TestApp.otherUser)

        let own = t.get("/api/v1/storage/files?search=%20report%20", token: t.token())
        #expect(own.status == 200)
        #expect(names(own) == ["Quarterly Report.csv"])
        #expect((own.json["pagination"] as? [String: Any])?["total"] as? Int == 1)

        let admin = t.token(user: TestApp.otherUser, admin: true)
        let everything = t.get("/api/v1/storage/files?scope=organization&search=REPORT&sort=original_filename&order=asc", token: admin)
        #expect(names(everything) == ["Quarterly Report.csv", "report-theirs.csv"])
        #expect(t.get("/api/v1/storage/files?scope=shared&search=report", token: admin).status == 200)
        // An empty search is no search.
        #expect(names(t.get("/api/v1/storage/files?search=", token: t.token())).count == 2)
    }

    @Test func searchKeepsTheScopesRulesAndItsLimit() throws {
        let t = try TestApp()
        #expect(t.get("/api/v1/storage/files?scope=organization&search=x", token: t.token()).status == 403)
        let long = t.get("/api/v1/storage/files?search=" + String(repeating: "x", count: 201), token: t.token())
        #expect(long.status == 400)
        #expect((long.json["error"] as? [String: Any])?["code"] as? String == "invalid_parameter")
    }
}
