import DepotDomain
import Foundation
import Testing

@Suite struct DepotEventTests {
    @Test func theBodyIsJSONWithItsKeysInOrderAndEscaped() throws {
        // id, type, created_at, data in that order; quotes, backslashes and control characters escaped.
        let e = DepotEvent(id: "e1", kind: .fileDeleted, organizationID: "o", createdAt: 1_796_033_700,
                           data: [("original_filename", .text("a\"b\\c\n\u{1}.txt")), ("size", .int(-3)), ("run_id", .null)])
        #expect(e.json == #"{"id":"e1","type":"file.deleted","created_at":"2026-11-30T10:15:00Z","data":{"original_filename":"a\"b\\c\n\u0001.txt","size":-3,"run_id":null}}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(e.json.utf8)) as? [String: Any])
        #expect((parsed["data"] as? [String: Any])?["original_filename"] as? String == "a\"b\\c\n\u{1}.txt")
    }
}
