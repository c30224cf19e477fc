import Foundation

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
