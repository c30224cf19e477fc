import DepotDomain
import Foundation
import Testing

@Suite struct UsageRoutesTests {
    @Test func quotaNeedsAToken() throws {
        // No token, or a token signed with another secret, is a 401 with the Bearer challenge.
        let t = try TestApp()
        let none = t.get("/api/v1/storage/quota")
        #expect(none.status == 401 && none.errorCode == "unauthorized")
        #expect(none.header("WWW-Authenticate") == "Bearer")
        let forged = t.get("/api/v1/storage/quota", token: t.token() + "x")
        #expect(forged.status == 401)
    }

    @Test func expiredTokenIsRefusedEvenAfterItWasCached() throws {
        // A token that worked is refused once its exp (plus leeway) has passed.
        let t = try TestApp()
        let token = t.token(expiresIn: 60)
        #expect(t.get("/api/v1/storage/quota", token: token).status == 200)
        t.now += 3600
        #expect(t.get("/api/v1/storage/quota", token: token).status == 401)
    }

    @Test func quotaOfANewAccountUsesThePlanOfItsKind() throws {
        // First sight creates the account: an individual token gets the individual plan's quota.
        let t = try TestApp()
        let org = t.get("/api/v1/storage/quota", token: t.token())
        #expect(org.status == 200)
        #expect(org.json["quota_bytes"] as? Int == 100 << 30)
        let individual = t.get("/api/v1/storage/quota", token: t.token(org: TestApp.otherOrg, acct: "individual"))
        #expect(individual.json["quota_bytes"] as? Int == 5 << 30)
        #expect(individual.json["plan"] as? String == "individual")
    }

    @Test func usageCountsTheCallersFiles() throws {
        // After one upload, usage shows its bytes for the organization, the user and its category.
        let t = try TestApp()
        try t.uploadFile("12345")
        let usage = t.get("/api/v1/storage/usage", token: t.token())
        #expect(usage.status == 200)
        #expect(usage.json["used_bytes"] as? Int == 5)
        #expect(usage.json["file_count"] as? Int == 1)
    }

    @Test func recalculateIsForAdmins() throws {
        // A member gets 403; an admin gets before/after figures.
        let t = try TestApp()
        try t.uploadFile("12345")
        let member = t.request("POST", "/api/v1/storage/quota/recalculate", token: t.token())
        #expect(member.status == 403 && member.errorCode == "forbidden")
        let admin = t.request("POST", "/api/v1/storage/quota/recalculate", token: t.token(admin: true))
        #expect(admin.status == 200)
        #expect((admin.json["after"] as? [String: Any])?["used_bytes"] as? Int == 5)
    }

    @Test func storageUsageFilterIsValidatedAndForAdmins() throws {
        // createdBy must be a UUID (400) and only admins may filter by user (403).
        let t = try TestApp()
        #expect(t.get("/api/v1/objects/storage-usage?createdBy=nope", token: t.token(admin: true)).status == 400)
        #expect(t.get("/api/v1/objects/storage-usage?createdBy=\(TestApp.user)", token: t.token()).status == 403)
        let all = t.get("/api/v1/objects/storage-usage", token: t.token())
        #expect(all.status == 200)
        #expect(all.json["totalBytes"] as? Int == 0 && all.json["orgKey"] as? String == TestApp.org)
    }

    func members(_ t: TestApp, token: String) -> (status: Int, rows: [[String: Any]], json: [String: Any]) {
        let r = t.get("/api/v1/storage/members", token: token)
        return (r.status, r.json["members"] as? [[String: Any]] ?? [], r.json)
    }

    /// Holds `bytes` for `user` as an upload in progress does.
    func reserve(_ t: TestApp, user: String, bytes: Int64, org: String = TestApp.org) throws {
        let r = try t.metadata.reserve(organizationID: org, userID: user, bytes: bytes, objectKey: "organizations/\(org)/files/\(user)/r\(UUID())",
                                       ownerPID: 1, ownerStart: "boot", now: 1_800_000_000, ttl: 3600)
        guard case .success = r else { throw TestFailure("reservation refused: \(r)") }
    }

    @Test func anAdminSeesEachMembersBytesFilesAndReservationsLargestFirst() throws {
        // Two members with files, one with only an upload in progress, one who deleted everything; another organization's member never appears.
        let t = try TestApp(extraConfig: "[plan.organization]\nmember_quota = 1000\n")
        let third = "55555555-5555-4555-8555-555555555555", gone = "66666666-6666-4666-8666-666666666666"
        try t.uploadFile("12345")
        try t.uploadFile("1234567890", filename: "big.csv", user: TestApp.otherUser)
        try t.uploadFile("abc", filename: "more.csv", user: TestApp.otherUser)
        try reserve(t, user: TestApp.user, bytes: 7)
        try reserve(t, user: third, bytes: 40)
        let deleted = try t.uploadFile("bye", filename: "bye.csv", user: gone)
        #expect(t.request("DELETE", "/api/v1/storage/objects/\(deleted["object_name"] as! String)", token: t.token(user: gone)).status == 204)
        let foreign = try t.upload(Array("foreign bytes".utf8), token: t.token(user: TestApp.otherUser, org: TestApp.otherOrg))
        #expect(foreign.status == 201)

        let r = members(t, token: t.token(user: third, admin: true))
        #expect(r.status == 200)
        let rows = r.rows.map { row in
            [row["user_id"] as? String ?? ""] + ["used_bytes", "file_count", "reserved_bytes"].map { "\(row[$0] as? Int ?? -1)" }
        }
        #expect(rows == [[TestApp.otherUser, "13", "2", "0"], [TestApp.user, "5", "1", "7"], [third, "0", "0", "40"]])
        #expect(r.json["member_quota_bytes"] as? Int == 1000)
        #expect(r.json["truncated"] as? Bool == false)
        // The other organization's admin sees only its own member.
        let other = members(t, token: t.token(user: third, org: TestApp.otherOrg, admin: true))
        #expect(other.rows.map { $0["user_id"] as? String } == [TestApp.otherUser])
        #expect(other.rows.first?["used_bytes"] as? Int == 13)
    }

    @Test func membersIsForAdminsAndNeedsAToken() throws {
        // A member gets 403 forbidden, as for recalculate; no token 401.
        let t = try TestApp()
        try t.uploadFile("12345")
        let member = t.get("/api/v1/storage/members", token: t.token())
        #expect(member.status == 403 && member.errorCode == "forbidden")
        #expect(t.get("/api/v1/storage/members").status == 401)
        let admin = members(t, token: t.token(admin: true))
        #expect(admin.status == 200 && admin.json["member_quota_bytes"] is NSNull)
    }

    @Test func anIndividualAccountFollowsItsTokensRole() throws {
        // The role decides, as on every admin route: an individual's admin token sees its one member, a member token 403.
        let t = try TestApp()
        let solo = "77777777-7777-4777-8777-777777777777", soloUser = "88888888-8888-4888-8888-888888888888"
        #expect(try t.upload(Array("mine\n".utf8), token: t.token(user: soloUser, org: solo, acct: "individual")).status == 201)
        #expect(t.get("/api/v1/storage/members", token: t.token(user: soloUser, org: solo)).status == 403)
        let own = members(t, token: t.token(user: soloUser, org: solo, admin: true))
        #expect(own.status == 200 && own.rows.map { $0["user_id"] as? String } == [soloUser])
        #expect(own.rows.first?["used_bytes"] as? Int == 5)
    }

    @Test func membersStopsAtAHundredAndSaysSo() throws {
        // 101 members holding room: the 100 first by used bytes (then id) are listed, and truncated is true.
        let t = try TestApp()
        try t.uploadFile("the largest")
        for i in 0..<100 {
            try reserve(t, user: String(format: "aaaaaaaa-aaaa-4aaa-8aaa-%012d", i), bytes: 1)
        }
        let r = members(t, token: t.token(admin: true))
        #expect(r.status == 200 && r.rows.count == 100)
        #expect(r.json["truncated"] as? Bool == true)
        #expect(r.rows.first?["user_id"] as? String == TestApp.user)
        #expect(r.rows.last?["user_id"] as? String == String(format: "aaaaaaaa-aaaa-4aaa-8aaa-%012d", 98))
    }
}
