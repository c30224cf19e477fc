import DepotDomain
import DepotEncoding
import DepotHTTP
@testable import DepotService
import Foundation
import Testing

@Suite struct ShareRoutesTests {
    static let third = "55555555-5555-4555-8555-555555555555"

    static func body(_ json: String) -> RequestBody {
        let bytes = Array(json.utf8)
        var sent = false
        return .stream(length: Int64(bytes.count)) { buffer in
            guard !sent else { return 0 }
            sent = true
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            return bytes.count
        }
    }

    func share(_ t: TestApp, _ name: String, _ json: String, token: String) -> TestResponse {
        t.request("POST", "/api/v1/storage/objects/\(PercentEncoding.encode(name))/shares", token: token,
                  headers: [("Content-Type", "application/json")], body: Self.body(json))
    }

    /// The owner's file, and both other members seen once (members are known once they used Depot).
    func setUp(_ t: TestApp) throws -> (name: String, key: String) {
        let file = try t.uploadFile("shared,bytes\n", filename: "plan.csv")
        #expect(t.get("/api/v1/storage/quota", token: t.token(user: TestApp.otherUser)).status == 200)
        #expect(t.get("/api/v1/storage/quota", token: t.token(user: Self.third)).status == 200)
        return (file["object_name"] as! String, file["object_key"] as! String)
    }

    @Test func aGranteeReadsByKeyAndLosesItOnTheNextRequestAfterRevocation() throws {
        let t = try TestApp()
        let (name, key) = try setUp(t)
        let grantee = t.token(user: TestApp.otherUser)
        let metadataPath = "/api/v1/storage/objects/\(PercentEncoding.encode(key))/metadata"
        #expect(t.get(metadataPath, token: grantee).status == 404)

        let created = share(t, name, #"{"user_id": "\#(TestApp.otherUser)"}"#, token: t.token())
        #expect(created.status == 201, "\(created.text)")
        let shareID = try #require(created.json["id"] as? String)
        #expect((created.json["shared_with"] as? [String: Any])?["user_id"] as? String == TestApp.otherUser)
        #expect((created.json["shared_with"] as? [String: Any])?["organization"] as? Bool == false)
        #expect(created.json["created_by"] as? String == TestApp.user)
        // The same grant again is the same share.
        let again = share(t, name, #"{"user_id": "\#(TestApp.otherUser)"}"#, token: t.token())
        #expect(again.status == 200 && again.json["id"] as? String == shareID)

        let seen = t.get(metadataPath, token: grantee)
        #expect(seen.status == 200)
        #expect(seen.json["owner_id"] as? String == TestApp.user && seen.json["shared"] as? Bool == true)
        let download = t.get("/api/v1/objects/download?objectKey=\(PercentEncoding.encode(key))", token: grantee)
        #expect(download.status == 200 && download.header("X-Accel-Redirect") != nil)
        #expect(download.response.logUserID == TestApp.otherUser)
        // Someone it was not shared with sees nothing.
        #expect(t.get(metadataPath, token: t.token(user: Self.third)).status == 404)
        #expect(t.get("/api/v1/objects/download?objectKey=\(PercentEncoding.encode(key))", token: t.token(user: Self.third)).status == 404)

        let listed = t.get("/api/v1/storage/files?scope=shared", token: grantee)
        #expect((listed.json["files"] as? [[String: Any]])?.map { $0["object_key"] as? String } == [key])
        #expect((listed.json["pagination"] as? [String: Any])?["total"] as? Int == 1)

        #expect(t.request("DELETE", "/api/v1/storage/shares/\(shareID)", token: grantee).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/shares/\(shareID)", token: t.token()).status == 204)
        #expect(t.get(metadataPath, token: grantee).status == 404)
        #expect(t.get("/api/v1/objects/download?objectKey=\(PercentEncoding.encode(key))", token: grantee).status == 404)
        #expect((t.get("/api/v1/storage/files?scope=shared", token: grantee).json["files"] as? [Any])?.isEmpty == true)
        #expect(t.request("DELETE", "/api/v1/storage/shares/\(shareID)", token: t.token()).status == 404)
    }

    @Test func granteesNeverDeleteShareOrPresign() throws {
        let t = try TestApp()
        let (name, key) = try setUp(t)
        #expect(share(t, name, #"{"organization": true}"#, token: t.token()).status == 201)
        let grantee = t.token(user: TestApp.otherUser)
        let encoded = PercentEncoding.encode(key)
        #expect(t.get("/api/v1/storage/objects/\(encoded)/metadata", token: grantee).status == 200)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(encoded)", token: grantee).status == 404)
        #expect(t.get("/api/v1/storage/objects/\(encoded)/presigned-url", token: grantee).status == 404)
        #expect(share(t, key, #"{"user_id": "\#(Self.third)"}"#, token: grantee).status == 404)
        #expect(t.get("/api/v1/storage/objects/\(encoded)/shares", token: grantee).status == 404)
        #expect(t.get("/api/v1/storage/objects/\(encoded)/metadata", token: t.token()).status == 200)
    }

    @Test func anOrganizationWideShareReachesEveryMemberButNoOtherOrganization() throws {
        let t = try TestApp()
        let (name, key) = try setUp(t)
        #expect(share(t, name, #"{"organization": true}"#, token: t.token()).status == 201)
        let encoded = PercentEncoding.encode(key)
        for user in [TestApp.otherUser, Self.third] {
            #expect(t.get("/api/v1/storage/objects/\(encoded)/metadata", token: t.token(user: user)).status == 200)
        }
        // The owner's own listing marks it shared; it is not in the owner's `shared` scope.
        let own = t.get("/api/v1/storage/files", token: t.token())
        #expect((own.json["files"] as? [[String: Any]])?.first?["shared"] as? Bool == true)
        #expect((t.get("/api/v1/storage/files?scope=shared", token: t.token()).json["files"] as? [Any])?.isEmpty == true)
        // Another organization's user with the same user id sees nothing.
        let foreign = t.token(user: TestApp.otherUser, org: TestApp.otherOrg)
        #expect(t.get("/api/v1/storage/objects/\(encoded)/metadata", token: foreign).status == 404)
        #expect(t.get("/api/v1/objects/download?objectKey=\(encoded)", token: foreign).status == 404)
        #expect((t.get("/api/v1/storage/files?scope=shared", token: foreign).json["files"] as? [Any])?.isEmpty == true)
    }

    @Test func adminsShareListAndRevokeAnyMembersFileAndListTheWholeOrganization() throws {
        let t = try TestApp()
        let (_, key) = try setUp(t)
        try t.uploadFile("theirs\n", filename: "other.csv", user: TestApp.otherUser)
        let admin = t.token(user: Self.third, admin: true)
        let created = share(t, key, #"{"user_id": "\#(TestApp.otherUser)"}"#, token: admin)
        #expect(created.status == 201)
        #expect(created.json["created_by"] as? String == Self.third)
        let listed = t.get("/api/v1/storage/objects/\(PercentEncoding.encode(key))/shares", token: admin)
        #expect((listed.json["shares"] as? [[String: Any]])?.count == 1)
        #expect(t.get("/api/v1/storage/objects/\(PercentEncoding.encode(key))/shares", token: t.token()).status == 200)
        #expect(t.request("DELETE", "/api/v1/storage/shares/\(created.json["id"] as! String)", token: admin).status == 204)

        let everything = t.get("/api/v1/storage/files?scope=organization&sort=size&order=asc", token: admin)
        #expect((everything.json["pagination"] as? [String: Any])?["total"] as? Int == 2)
        let owners = Set(((everything.json["files"] as? [[String: Any]]) ?? []).compactMap { $0["owner_id"] as? String })
        #expect(owners == [TestApp.user, TestApp.otherUser])
        let refused = t.get("/api/v1/storage/files?scope=organization", token: t.token())
        #expect(refused.status == 403)
        #expect(t.get("/api/v1/storage/files?scope=everyone", token: t.token()).status == 400)
    }

    @Test func adminsListOnlyTheFilesSharedOrganizationWide() throws {
        // shared_with=organization: the org-wide shares of every member, not direct shares, not unshared files; gone once revoked.
        let t = try TestApp()
        let (name, key) = try setUp(t)
        let theirs = try t.uploadFile("theirs,and more\n", filename: "theirs.csv", user: TestApp.otherUser)
        let direct = try t.uploadFile("direct\n", filename: "direct.csv", user: TestApp.otherUser)
        try t.uploadFile("private\n", filename: "private.csv")
        let wide = share(t, name, #"{"organization": true}"#, token: t.token())
        #expect(wide.status == 201)
        let otherToken = t.token(user: TestApp.otherUser)
        #expect(share(t, theirs["object_name"] as! String, #"{"organization": true}"#, token: otherToken).status == 201)
        #expect(share(t, direct["object_name"] as! String, #"{"user_id": "\#(TestApp.user)"}"#, token: otherToken).status == 201)

        let admin = t.token(user: Self.third, admin: true)
        let path = "/api/v1/storage/files?scope=organization&shared_with=organization"
        let listed = t.get(path + "&sort=size&order=desc", token: admin)
        #expect(listed.status == 200, "\(listed.text)")
        let files = listed.json["files"] as? [[String: Any]] ?? []
        #expect(files.map { $0["object_key"] as? String } == [theirs["object_key"] as? String, key])
        #expect(files.allSatisfy { $0["shared"] as? Bool == true && $0["owner_id"] is String })
        #expect((listed.json["pagination"] as? [String: Any])?["total"] as? Int == 2)
        let second = t.get(path + "&sort=size&order=desc&page=2&page_size=1", token: admin)
        #expect((second.json["files"] as? [[String: Any]])?.map { $0["object_key"] as? String } == [key])
        #expect((second.json["pagination"] as? [String: Any])?["total_pages"] as? Int == 2)
        #expect((t.get(path + "&category=data_source", token: admin).json["files"] as? [Any])?.isEmpty == true)
        #expect((t.get(path + "&category=general", token: admin).json["pagination"] as? [String: Any])?["total"] as? Int == 2)

        #expect(t.request("DELETE", "/api/v1/storage/shares/\(wide.json["id"] as! String)", token: t.token()).status == 204)
        let after = t.get(path, token: admin)
        #expect((after.json["files"] as? [[String: Any]])?.map { $0["object_key"] as? String } == [theirs["object_key"] as? String])
    }

    @Test func sharedWithIsForAdminsAndOnlyWithTheOrganizationScope() throws {
        // A member 403, as for scope=organization; another scope or value 400 invalid_parameter, as for an unknown scope.
        let t = try TestApp()
        let member = t.get("/api/v1/storage/files?scope=organization&shared_with=organization", token: t.token())
        #expect(member.status == 403 && member.errorCode == "forbidden")
        let admin = t.token(admin: true)
        for query in ["shared_with=organization", "scope=own&shared_with=organization", "scope=shared&shared_with=organization",
                      "scope=organization&shared_with=everyone", "scope=organization&shared_with="] {
            let r = t.get("/api/v1/storage/files?" + query, token: admin)
            #expect(r.status == 400 && r.errorCode == "invalid_parameter", "\(query): \(r.status) \(r.text)")
        }
    }

    @Test func badGrantsAreRefusedWithTheirCodes() throws {
        let t = try TestApp()
        let (name, _) = try setUp(t)
        let owner = t.token()
        let unknownMember = "66666666-6666-4666-8666-666666666666"
        for body in ["{}", #"{"user_id": "not-a-uuid"}"#, #"{"organization": false}"#, #"{"organization": 1}"#,
                     #"{"user_id": "\#(TestApp.otherUser)", "organization": true}"#, #"{"user_id": "\#(TestApp.user)"}"#,
                     #"{"user_id": "\#(unknownMember)"}"#, #"{"group": "x"}"#] {
            let r = share(t, name, body, token: owner)
            #expect(r.status == 422 && r.errorCode == "invalid_share", "\(body): \(r.status) \(r.text)")
        }
        // A user seen only in another organization is not a member of this one.
        #expect(t.get("/api/v1/storage/quota", token: t.token(user: unknownMember, org: TestApp.otherOrg)).status == 200)
        #expect(share(t, name, #"{"user_id": "\#(unknownMember)"}"#, token: owner).errorCode == "invalid_share")
        #expect(share(t, name, "[1]", token: owner).errorCode == "invalid_json")
        #expect(share(t, "nothing_here.csv", #"{"organization": true}"#, token: owner).status == 404)
        #expect(t.request("DELETE", "/api/v1/storage/shares/not-an-id", token: owner).status == 400)
        #expect(t.request("DELETE", "/api/v1/storage/shares/\(unknownMember)", token: owner).status == 404)
    }

    @Test func individualAccountsCannotShare() throws {
        let t = try TestApp()
        let solo = "77777777-7777-4777-8777-777777777777", soloUser = "88888888-8888-4888-8888-888888888888"
        let token = t.token(user: soloUser, org: solo, acct: "individual")
        let up = try t.upload(Array("mine\n".utf8), token: token)
        #expect(up.status == 201)
        let r = share(t, up.json["object_name"] as! String, #"{"organization": true}"#, token: token)
        #expect(r.status == 403 && r.errorCode == "sharing_not_available")
    }

    @Test func deletingAFileRemovesItsShares() throws {
        let t = try TestApp()
        let (name, key) = try setUp(t)
        #expect(share(t, name, #"{"organization": true}"#, token: t.token()).status == 201)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(name)", token: t.token()).status == 204)
        #expect(try t.metadata.shares(objectKey: key).isEmpty)
        #expect((t.get("/api/v1/storage/files?scope=shared", token: t.token(user: TestApp.otherUser)).json["files"] as? [Any])?.isEmpty == true)
    }

    @Test func aMemberQuotaRefusesTheMemberNotTheOrganization() throws {
        let t = try TestApp(extraConfig: "[plan.organization]\nmember_quota = 10\n")
        #expect(t.get("/api/v1/storage/quota", token: t.token()).json["member_quota_bytes"] as? Int == 10)
        #expect(try t.upload(Array("12345678".utf8), token: t.token()).status == 201)
        let over = try t.upload(Array("abc".utf8), token: t.token())
        #expect(over.status == 413 && over.errorCode == "member_quota_exceeded", "\(over.text)")
        #expect(try t.upload(Array("abc".utf8), token: t.token(user: TestApp.otherUser)).status == 201)
    }
}
