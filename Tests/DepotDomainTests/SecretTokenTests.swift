import DepotCrypto
import DepotDomain
import Testing

@Suite struct UploadLinkTokenTests {
    @Test func aTokenRoundTripsAndMatchesOnlyItsOwnSecret() throws {
        let token = UploadLinkToken.generate()
        #expect(token.text.utf8.count == 64)
        let parsed = try #require(UploadLinkToken(token.text))
        #expect(parsed == token)
        #expect(UUIDs.isValid(parsed.linkID))
        #expect(parsed.matches(secretHash: token.secretHash))
        #expect(!UploadLinkToken.generate().matches(secretHash: token.secretHash))
    }

    @Test func anythingButAToken_sShapeIsNoToken() {
        let text = UploadLinkToken.generate().text
        for bad in ["", String(text.dropLast()), text + "A", String(repeating: "=", count: 64), String(text.prefix(63)) + "+",
                    String(text.prefix(63)) + "!", String(text.prefix(63)) + "/"] {
            #expect(UploadLinkToken(bad) == nil, "\(bad)")
        }
        // One character changed: another id or another secret, never the same token.
        let original = UploadLinkToken(text)!
        var changed = Array(text)
        changed[40] = changed[40] == "A" ? "B" : "A"
        if let other = UploadLinkToken(String(changed)) { #expect(!other.matches(secretHash: original.secretHash) || other.linkID != original.linkID) }
    }
}
