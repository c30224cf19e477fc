import DepotDomain
import Testing

@Suite struct UUIDsTests {
    @Test func canonicalFormIsValidInAnyCase() {
        // 8-4-4-4-12 hex with hyphens is a UUID, lowercase or uppercase.
        #expect(UUIDs.isValid("0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5e"))
        #expect(UUIDs.isValid("0B5F7C1E-2D3A-4B6C-8D9E-0F1A2B3C4D5E"))
        #expect(UUIDs.isValid("00000000-0000-0000-0000-000000000000"))
    }

    @Test func nearMissesAreNotUUIDs() {
        // Wrong length, misplaced or missing hyphens, braces, non-hex and non-ASCII digits are refused.
        let misses = [
            "", "0b5f7c1e2d3a4b6c8d9e0f1a2b3c4d5e", "0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5", "0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5e0",
            "0b5f7c1e-2d3a4-b6c-8d9e-0f1a2b3c4d5e", "{0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5}", "0b5f7c1g-2d3a-4b6c-8d9e-0f1a2b3c4d5e",
            "0b5f7c1e_2d3a_4b6c_8d9e_0f1a2b3c4d5e", " 0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5", "0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5\u{0}",
            "\u{FF10}b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5", "../../../../../../../../../../../..",
        ]
        for s in misses {
            #expect(!UUIDs.isValid(s), "\(s.debugDescription)")
        }
    }

    @Test func uuidCanonicalization() {
        // canonical: only 8-4-4-4-12 hex UUIDs pass (what tokens' sub and org must be), returned lowercase.
        #expect(UUIDs.canonical("3F2504E0-4F89-11D3-9A0C-0305E82C3301") == "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        #expect(UUIDs.canonical("3f2504e04f8911d39a0c0305e82c3301") == nil)
        #expect(UUIDs.canonical("3f2504e0-4f89-11d3-9a0c-0305e82c330") == nil)
        #expect(UUIDs.canonical("3f2504e0-4f89-11d3-9a0c-0305e82c33g1") == nil)
        #expect(UUIDs.canonical("3f2504e0-4f89-11d3-9a0c-0305e82c33０1") == nil)
    }

    @Test func randomIsALowercaseVersion4UUID() {
        // A random id is lowercase, canonical, version 4 with the RFC 4122 variant.
        for _ in 0..<50 {
            let id = UUIDs.random()
            #expect(UUIDs.isValid(id))
            #expect(id == id.lowercased())
            let chars = Array(id)
            #expect(chars[14] == "4")
            #expect("89ab".contains(chars[19]))
        }
    }

    @Test func randomIdsDiffer() {
        // Two random ids are never the same.
        #expect(Set((0..<100).map { _ in UUIDs.random() }).count == 100)
    }
}
