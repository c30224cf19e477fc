import DepotDomain
import DepotHTTP
@testable import DepotService
import Foundation
import Testing

/// `Views.file` writes its bytes directly; they must stay what the JSON tree
/// of the contract's file object serializes to, key for key, escape for escape.
@Suite struct FileViewTests {
    static func tree(_ f: StoredFile) -> JSONValue {
        [
            "id": .string(f.id), "object_name": .string(f.objectName), "object_key": .string(f.objectKey),
            "original_filename": .string(f.originalFilename), "size": .int(f.size), "content_type": .string(f.contentType),
            "category": .string(f.category.rawValue), "sha256": .string(f.sha256), "etag": .string(f.etag),
            "uploaded_at": .string(Timestamps.rfc3339(f.uploadedAt)), "bucket": .string(f.bucket),
            "workflow_id": .optional(f.workflowID), "run_id": .optional(f.runID), "direction": .optional(f.direction?.rawValue),
            "expires_at": f.expiresAt.map { .string(Timestamps.rfc3339($0)) } ?? .null,
            "owner_id": .string(f.userID), "shared": .bool(f.shared),
        ]
    }

    static let files = [
        StoredFile(id: "f1", organizationID: "o", userID: "u", objectKey: "organizations/o/files/u/a.csv", objectName: "a.csv",
                   originalFilename: "a.csv", size: 0, contentType: "text/csv", category: .dataSource, sha256: String(repeating: "a", count: 64),
                   etag: "\"e\"", keyID: "k1", uploadedAt: 0, bucket: "depot"),
        StoredFile(id: "f2", organizationID: "o", userID: "u", objectKey: "organizations/o/workflows/w/runs/r/output/x/out.bin",
                   objectName: "out.bin", originalFilename: "quote \" back\\slash\ttab\nline \u{2028}\u{2029} \u{1} é 日本 🎉",
                   size: Int64.max, contentType: "application/octet-stream", category: .general, sha256: "", etag: "",
                   keyID: "k2", uploadedAt: 1_796_033_700, bucket: "b", workflowID: "w", runID: "r", direction: .output,
                   expiresAt: 4_102_444_800, shared: true),
        StoredFile(id: "f3", organizationID: "o", userID: "u", objectKey: "k", objectName: "n", originalFilename: "",
                   size: 1, contentType: "", category: .profileImage, sha256: "", etag: "", keyID: "", uploadedAt: -1,
                   bucket: "", direction: .input, expiresAt: 86_399),
    ]

    @Test func eachFileIsTheTreeOfTheContract() throws {
        for f in Self.files {
            #expect(Views.file(f).serialized() == Self.tree(f).serialized())
            // And it is valid JSON that reads back to the same text.
            let parsed = try JSONSerialization.jsonObject(with: Data(Views.file(f).serializedBytes())) as? [String: Any]
            #expect(parsed?["original_filename"] as? String == f.originalFilename)
            #expect(parsed?["size"] as? Int64 == f.size)
        }
    }

    @Test func aListingIsTheArrayOfThem() {
        #expect(Views.files(Self.files).serialized() == JSONValue.array(Self.files.map(Self.tree)).serialized())
        #expect(Views.files([]).serialized() == "[]")
    }
}
