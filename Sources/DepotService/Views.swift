import DepotDomain
import DepotHTTP
import DepotMetadata
import Foundation

/// The JSON shapes of the contract, in one place.
enum Views {
    static func file(_ f: StoredFile) -> JSONValue {
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
