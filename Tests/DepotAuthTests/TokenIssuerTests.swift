import DepotAuth
import DepotDomain
import Testing

@Suite struct TokenIssuerTests {
    @Test func issuedTokensPassTheVerifierWithIssuerAudienceAndKeyID() throws {
        let key = JWTKey(id: "k1", algorithm: .hs256, hmacSecret: Fixture.hmacSecret)
        let config = Fixture.config([Fixture.esKey, key], issuer: "https://id.example", audience: "depot")
        let issuer = try #require(TokenIssuer(configuration: config))
        let token = issuer.issue(userID: Fixture.userID.lowercased(), organizationID: Fixture.orgID, role: .admin, accountType: .individual,
                                 issuedAt: Fixture.now, lifetime: 600)
        let identity = try JWTVerifier(config).verify(token, now: Fixture.now + 599)
        #expect(identity == Identity(userID: Fixture.userID.lowercased(), organizationID: Fixture.orgID, role: .admin,
                                     accountType: .individual, expiresAt: Fixture.now + 600))
        #expect(throws: AuthError.self) { try JWTVerifier(config).verify(token, now: Fixture.now + 700) }
    }

    @Test func onlyAnHS256KeyCanIssue() {
        #expect(TokenIssuer(configuration: Fixture.config([Fixture.esKey, Fixture.rsKey])) == nil)
    }
}
