import DepotCrypto
import DepotDomain
import Testing

@Suite struct SecretTokenTests {
    @Test func aTokenRoundTripsAndMatchesOnlyItsOwnSecret() throws {
        let token = SecretToken.generate()
        #expect(token.text.utf8.count == 64)
        let parsed = try #require(SecretToken(token.text))
        #expect(parsed == token)
        #expect(UUIDs.isValid(parsed.id))
        #expect(parsed.matches(secretHash: token.secretHash))
        #expect(!SecretToken.generate().matches(secretHash: token.secretHash))
    }

    @Test func anythingButAToken_sShapeIsNoToken() {
        let text = SecretToken.generate().text
        for bad in ["", String(text.dropLast()), text + "A", String(repeating: "=", count: 64), String(text.prefix(63)) + "+",
                    String(text.prefix(63)) + "!", String(text.prefix(63)) + "/"] {
            #expect(SecretToken(bad) == nil, "\(bad)")
        }
        // One character changed: another id or another secret, never the same token.
        let original = SecretToken(text)!
        var changed = Array(text)
        changed[40] = changed[40] == "A" ? "B" : "A"
        if let other = SecretToken(String(changed)) { #expect(!other.matches(secretHash: original.secretHash) || other.id != original.id) }
    }
}
