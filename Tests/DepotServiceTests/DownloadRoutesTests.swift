import Foundation
import Testing

@Suite struct DownloadRoutesTests {
    private func signedLink(_ t: TestApp, _ name: String, type: String = "attachment") throws -> String {
        let response = t.get("/api/v1/storage/objects/\(name)/presigned-url?type=\(type)", token: t.token())
        let url = try #require(response.json["url"] as? String)
        return String(url.dropFirst("https://depot.test".count))
    }

    @Test func signedLinkHandsTheTransferToNginx() throws {
        // X-Accel-Redirect to the internal location, the store path signed, SSE-C key in private headers, no body.
        let t = try TestApp()
        let record = try t.uploadFile(filename: "q3 report.csv")
        let name = try #require(record["object_name"] as? String)
        let response = t.get(try signedLink(t, name))
        #expect(response.status == 200)
        #expect(response.header("X-Accel-Redirect") == "/_store/object")
        #expect(response.header("X-Depot-Store-Path")?.hasPrefix("/depot/organizations/") == true)
        #expect(response.header("X-Depot-SSE-key") != nil)
        #expect(response.header("Content-Type") == "text/csv")
        #expect(response.header("X-Depot-Content-Disposition")?.hasPrefix("attachment;") == true)
        #expect(response.response.body.isEmpty)
        #expect(response.response.logUserID == nil)
    }

    @Test func everyRefusalIsTheSame404() throws {
        // A wrong signature, an expired link, an unknown key and a malformed key all answer 404.
        let t = try TestApp()
        let record = try t.uploadFile()
        let name = try #require(record["object_name"] as? String)
        let link = try signedLink(t, name)
        #expect(t.get(link.replacingOccurrences(of: "signature=", with: "signature=0")).status == 404)
        #expect(t.get(link.replacingOccurrences(of: "type=attachment", with: "type=inline")).status == 404)
        t.now += 7200
        #expect(t.get(link).status == 404)
        #expect(t.get("/api/v1/objects/download?objectKey=organizations/nope").status == 404)
        #expect(t.get("/api/v1/objects/download?objectKey=../../etc/passwd").status == 404)
        let missing = t.get("/api/v1/objects/download")
        #expect(missing.status == 400 && missing.errorCode == "missing_parameter")
    }

    @Test func ownersTokenOpensTheirOwnFilesOnly() throws {
        // The owner's bearer token downloads (and names the user in the log); another user's token is 404.
        let t = try TestApp()
        let record = try t.uploadFile()
        let key = try #require(record["object_key"] as? String)
        let own = t.get("/api/v1/objects/download?objectKey=\(key)", token: t.token())
        #expect(own.status == 200 && own.response.logUserID == TestApp.user)
        #expect(t.get("/api/v1/objects/download?objectKey=\(key)", token: t.token(user: TestApp.otherUser)).status == 404)
        #expect(t.get("/api/v1/objects/download?objectKey=\(key)").status == 404)
    }

    @Test func inlineOnlyForSafeTypes() throws {
        // type=inline is honoured for plain text but an HTML file is still served as an attachment.
        let t = try TestApp()
        let text = try t.upload(Array("hi".utf8), filename: "a.txt", contentType: "text/plain", token: t.token())
        let textName = try #require(text.json["object_name"] as? String)
        #expect(t.get(try signedLink(t, textName, type: "inline")).header("X-Depot-Content-Disposition")?.hasPrefix("inline") == true)
        let html = try t.upload(Array("<script>".utf8), filename: "x.html", contentType: "text/html", token: t.token())
        let htmlName = try #require(html.json["object_name"] as? String)
        #expect(t.get(try signedLink(t, htmlName, type: "inline")).header("X-Depot-Content-Disposition")?.hasPrefix("attachment") == true)
    }

    @Test func headIsSignedAsHead() throws {
        // HEAD keeps its method through X-Accel-Redirect, so the store URL is signed for HEAD.
        let t = try TestApp()
        let name = try #require(try t.uploadFile()["object_name"] as? String)
        let head = t.request("HEAD", try signedLink(t, name))
        #expect(head.status == 200 && head.header("X-Accel-Redirect") != nil)
        #expect(head.header("Content-Length") == nil)
    }
}
