import DepotDomain
import DepotHTTP
import DepotMetadata
import Foundation

/// The JSON shapes of the contract, in one place.
enum Views {
    /// A file record. Written straight into bytes (a listing writes up to
    /// a hundred of them per request); `FileViewTests` holds it to the tree
    /// of the same keys in the same order.
    static func file(_ f: StoredFile) -> JSONValue {
        var out: [UInt8] = []
        out.reserveCapacity(640)
        appendFile(f, to: &out)
        return .raw(out)
    }

    /// Files as one JSON array.
    static func files(_ files: [StoredFile]) -> JSONValue {
        var out: [UInt8] = []
        out.reserveCapacity(2 + 640 * files.count)
        out.append(UInt8(ascii: "["))
        for (i, f) in files.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendFile(f, to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return .raw(out)
    }

    private static func appendFile(_ f: StoredFile, to out: inout [UInt8]) {
        func literal(_ text: StaticString) {
            out += UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        }
        func string(_ s: String?) {
            if let s { JSONValue.appendString(s, to: &out) } else { literal("null") }
        }
        func timestamp(_ t: Int64?) {
            guard let t else { literal("null"); return }
            out.append(UInt8(ascii: "\""))
            Timestamps.appendRFC3339(t, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        literal(#"{"id":"#); string(f.id)
        literal(#","object_name":"#); string(f.objectName)
        literal(#","object_key":"#); string(f.objectKey)
        literal(#","original_filename":"#); string(f.originalFilename)
        literal(#","size":"#); JSONValue.appendInteger(f.size, to: &out)
        literal(#","content_type":"#); string(f.contentType)
        literal(#","category":"#); string(f.category.rawValue)
        literal(#","sha256":"#); string(f.sha256)
        literal(#","etag":"#); string(f.etag)
        literal(#","uploaded_at":"#); timestamp(f.uploadedAt)
        literal(#","bucket":"#); string(f.bucket)
        literal(#","workflow_id":"#); string(f.workflowID)
        literal(#","run_id":"#); string(f.runID)
        literal(#","direction":"#); string(f.direction?.rawValue)
        literal(#","expires_at":"#); timestamp(f.expiresAt)
        literal(#","owner_id":"#); string(f.userID)
        literal(#","shared":"#); literal(f.shared ? "true}" : "false}")
    }

    static func share(_ s: Share) -> JSONValue {
        [
            "id": .string(s.id), "object_key": .string(s.objectKey),
            "shared_with": ["user_id": .optional(s.granteeUserID), "organization": .bool(s.granteeUserID == nil)],
            "created_by": .string(s.createdBy), "created_at": .string(Timestamps.rfc3339(s.createdAt)),
        ]
    }

    static func usage(_ u: UsageReport) -> JSONValue {
        let percent = u.quotaBytes > 0 ? (Double(u.usedBytes) / Double(u.quotaBytes) * 10000).rounded() / 100 : 0
        var categories: [(String, JSONValue)] = []
        for c in FileCategory.allCases {
            let v = u.byCategory[c] ?? CategoryUsage(bytes: 0, files: 0)
            categories.append((c.rawValue, ["bytes": .int(v.bytes), "files": .int(v.files)]))
        }
        return [
            "used_bytes": .int(u.usedBytes), "reserved_bytes": .int(u.reservedBytes), "file_count": .int(u.fileCount),
            "quota_bytes": .int(u.quotaBytes), "available_bytes": .int(u.availableBytes), "percent_used": .double(percent),
            "user_used_bytes": .int(u.userUsedBytes), "user_file_count": .int(u.userFileCount), "by_category": .object(categories),
        ]
    }

    static func quota(_ a: Account) -> JSONValue {
        [
            "account_type": .string(a.accountType.rawValue), "plan": .string(a.plan.name), "quota_bytes": .int(a.plan.quotaBytes),
            "max_file_size_bytes": .int(a.plan.maxFileSizeBytes), "max_files": .int(a.plan.maxFiles),
            "allowed_categories": .array(a.plan.allowedCategories.map { .string($0.rawValue) }),
            "member_quota_bytes": a.plan.memberQuotaBytes.map { .int($0) } ?? .null,
        ]
    }

    static func storageUsage(_ r: StorageUsageReport, organizationID: String) -> JSONValue {
        [
            "orgKey": .string(organizationID), "totalBytes": .int(r.totalBytes), "inputBytes": .int(r.inputBytes),
            "outputBytes": .int(r.outputBytes), "fileCount": .int(r.fileCount), "breakdownTruncated": .bool(r.breakdownTruncated),
            "breakdown": .array(r.breakdown.map {
                ["workflowId": .string($0.workflowID), "workflowName": .string($0.workflowName), "bytes": .int($0.bytes), "fileCount": .int($0.fileCount)]
            }),
        ]
    }

    static func members(_ r: MemberUsageReport, memberQuotaBytes: Int64?) -> JSONValue {
        [
            "members": .array(r.members.map {
                ["user_id": .string($0.userID), "used_bytes": .int($0.usedBytes), "file_count": .int($0.fileCount),
                 "reserved_bytes": .int($0.reservedBytes)]
            }),
            "member_quota_bytes": memberQuotaBytes.map { .int($0) } ?? .null, "truncated": .bool(r.truncated),
        ]
    }
}
