import DepotDomain
import DepotHTTP
import DepotMetadata
@testable import DepotService
import Foundation
import Testing

@Suite struct ConsoleSessionRoutesTests {
    /// A login as `depotctl token issue --console` records it; its code.
    func makeLogin(_ t: TestApp, role: String = "member", lifetime: Int64 = 900, validFor: Int64 = 600) throws -> String {
        let code = SecretToken.generate()
        let now = Int64(t.now.timeIntervalSince1970)
        try t.metadata.createConsoleLogin(ConsoleLogin(id: code.id, organizationID: TestApp.org, userID: TestApp.user, role: role,
                                                       accountType: nil, tokenLifetime: lifetime, secretHash: code.secretHash,
                                                       createdAt: now, expiresAt: now + validFor, usedAt: nil))
        return code.text
    }

    func redeem(_ t: TestApp, _ body: String) -> TestResponse {
        t.request("POST", "/api/v1/console/sessions", headers: [("Content-Type", "application/json")], body: TestApp.body(body))
    }

    @Test func aCodeGivesATokenForItsUserOnceOnly() throws {
        let t = try TestApp()
        let code = try makeLogin(t, role: "admin", lifetime: 900)
        let first = redeem(t, #"{"code": "\#(code)"}"#)
        #expect(first.status == 201, "\(first.text)")
        #expect(first.header("Cache-Control") == "no-store")
        let token = try #require(first.json["token"] as? String)
        #expect(first.json["expires_at"] as? String == Timestamps.rfc3339(Int64(t.now.timeIntervalSince1970) + 900))
        // The token works, as the user and role the login was made for.
        #expect(t.get("/api/v1/storage/members", token: token).status == 200)
        #expect(t.get("/api/v1/storage/quota", token: token).status == 200)
        let again = redeem(t, #"{"code": "\#(code)"}"#)
        #expect(again.status == 401)
        #expect(again.errorCode == "invalid_login_code")
        #expect(!again.text.contains(code))
    }

    @Test func expiredAlteredAndUnknownCodesAre401() throws {
        let t = try TestApp()
        let expiring = try makeLogin(t, validFor: 60)
        let good = try makeLogin(t)
        t.now += 61
        #expect(redeem(t, #"{"code": "\#(expiring)"}"#).errorCode == "invalid_login_code")
        var altered = Array(good)
        altered[40] = altered[40] == "A" ? "B" : "A"
        #expect(redeem(t, #"{"code": "\#(String(altered))"}"#).errorCode == "invalid_login_code")
        #expect(redeem(t, #"{"code": "\#(SecretToken.generate().text)"}"#).errorCode == "invalid_login_code")
        #expect(redeem(t, #"{"code": "short"}"#).errorCode == "invalid_login_code")
        // The altered tries did not spend the real code.
        #expect(redeem(t, #"{"code": "\#(good)"}"#).status == 201)
    }

    @Test func malformedRequestsAre400Or413() throws {
        let t = try TestApp()
        #expect(redeem(t, "").status == 400)
        #expect(redeem(t, "[1]").errorCode == "invalid_json")
        #expect(redeem(t, #"{"code": 5}"#).status == 400)
        #expect(redeem(t, #"{"code": "x", "user": "y"}"#).status == 400)
        #expect(redeem(t, #"{"code": "\#(String(repeating: "a", count: 2000))"}"#).status == 413)
    }
}
