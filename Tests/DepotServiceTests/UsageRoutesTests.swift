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
}
