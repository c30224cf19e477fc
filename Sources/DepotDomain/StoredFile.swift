import Foundation

/// One file record: what the API calls `File`.
public struct StoredFile: Equatable {
    public var id: String
    public var organizationID: String
    public var userID: String
    public var objectKey: String
    public var objectName: String
    public var originalFilename: String
    public var size: Int64
    public var contentType: String
    public var category: FileCategory
    public var sha256: String
    public var etag: String
    public var keyID: String
    public var uploadedAt: Int64
    public var bucket: String
    public var workflowID: String?
    public var runID: String?
    public var direction: ObjectKeys.Direction?

    public init(id: String, organizationID: String, userID: String, objectKey: String, objectName: String,
                originalFilename: String, size: Int64, contentType: String, category: FileCategory, sha256: String,
                etag: String, keyID: String, uploadedAt: Int64, bucket: String,
                workflowID: String? = nil, runID: String? = nil, direction: ObjectKeys.Direction? = nil) {
        self.id = id
        self.organizationID = organizationID
        self.userID = userID
        self.objectKey = objectKey
        self.objectName = objectName
        self.originalFilename = originalFilename
        self.size = size
        self.contentType = contentType
        self.category = category
        self.sha256 = sha256
        self.etag = etag
        self.keyID = keyID
        self.uploadedAt = uploadedAt
        self.bucket = bucket
        self.workflowID = workflowID
        self.runID = runID
        self.direction = direction
    }
}

public struct Account: Equatable {
    public var organizationID: String
    public var accountType: AccountKind
    public var plan: Plan
    public var quota: QuotaState

    public init(organizationID: String, accountType: AccountKind, plan: Plan, quota: QuotaState) {
        self.organizationID = organizationID
        self.accountType = accountType
        self.plan = plan
        self.quota = quota
    }
}

public struct CategoryUsage: Equatable {
    public var bytes: Int64
    public var files: Int64
    public init(bytes: Int64, files: Int64) { self.bytes = bytes; self.files = files }
}

/// Organization-wide usage plus the caller's own share.
public struct UsageReport: Equatable {
    public var usedBytes: Int64
    public var reservedBytes: Int64
    public var fileCount: Int64
    public var quotaBytes: Int64
    public var userUsedBytes: Int64
    public var userFileCount: Int64
    public var byCategory: [FileCategory: CategoryUsage]

    public init(usedBytes: Int64, reservedBytes: Int64, fileCount: Int64, quotaBytes: Int64,
                userUsedBytes: Int64, userFileCount: Int64, byCategory: [FileCategory: CategoryUsage]) {
        self.usedBytes = usedBytes
        self.reservedBytes = reservedBytes
        self.fileCount = fileCount
        self.quotaBytes = quotaBytes
        self.userUsedBytes = userUsedBytes
        self.userFileCount = userFileCount
        self.byCategory = byCategory
    }

    public var availableBytes: Int64 { max(0, quotaBytes - usedBytes - reservedBytes) }
}

public struct WorkflowUsage: Equatable {
    public var workflowID: String
    public var workflowName: String
    public var bytes: Int64
    public var fileCount: Int64
    public init(workflowID: String, workflowName: String, bytes: Int64, fileCount: Int64) {
        self.workflowID = workflowID
        self.workflowName = workflowName
        self.bytes = bytes
        self.fileCount = fileCount
    }
}

public struct StorageUsageReport: Equatable {
    public var totalBytes: Int64
    public var inputBytes: Int64
    public var outputBytes: Int64
    public var fileCount: Int64
    public var breakdown: [WorkflowUsage]
    public init(totalBytes: Int64, inputBytes: Int64, outputBytes: Int64, fileCount: Int64, breakdown: [WorkflowUsage]) {
        self.totalBytes = totalBytes
        self.inputBytes = inputBytes
        self.outputBytes = outputBytes
        self.fileCount = fileCount
        self.breakdown = breakdown
    }
}

public enum FileSort: String { case uploadedAt = "uploaded_at", size, originalFilename = "original_filename" }
public enum ListOrder: String { case asc, desc }
