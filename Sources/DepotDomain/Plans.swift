import Foundation

public struct Plan: Equatable {
    public var name: String
    public var quotaBytes: Int64
    public var maxFileSizeBytes: Int64
    public var maxFiles: Int64
    public var allowedCategories: [FileCategory]

    public init(name: String, quotaBytes: Int64, maxFileSizeBytes: Int64, maxFiles: Int64,
                allowedCategories: [FileCategory] = FileCategory.allCases) {
        self.name = name
        self.quotaBytes = quotaBytes
        self.maxFileSizeBytes = maxFileSizeBytes
        self.maxFiles = maxFiles
        self.allowedCategories = allowedCategories
    }

    public static let individual = Plan(name: "individual", quotaBytes: 5 << 30, maxFileSizeBytes: 100 << 20, maxFiles: 10_000)
    public static let organization = Plan(name: "organization", quotaBytes: 100 << 30, maxFileSizeBytes: 5 << 30, maxFiles: 1_000_000)
}

/// Organization-wide figures the quota decision is made on.
public struct QuotaState: Equatable {
    public var usedBytes: Int64
    public var reservedBytes: Int64
    public var fileCount: Int64
    public var reservedFiles: Int64

    public init(usedBytes: Int64, reservedBytes: Int64, fileCount: Int64, reservedFiles: Int64) {
        self.usedBytes = usedBytes
        self.reservedBytes = reservedBytes
        self.fileCount = fileCount
        self.reservedFiles = reservedFiles
    }
}

public enum QuotaRefusal: Error, Equatable {
    case fileTooLarge(limit: Int64)
    case quotaExceeded(available: Int64)
    case tooManyFiles(limit: Int64)
}

public enum QuotaPolicy {
    /// Whether one more file of `size` bytes fits; pure so it can be tested
    /// apart from the transaction that applies it.
    public static func check(size: Int64, plan: Plan, state: QuotaState) -> QuotaRefusal? {
        if size > plan.maxFileSizeBytes { return .fileTooLarge(limit: plan.maxFileSizeBytes) }
        if state.fileCount + state.reservedFiles + 1 > plan.maxFiles { return .tooManyFiles(limit: plan.maxFiles) }
        let available = plan.quotaBytes - state.usedBytes - state.reservedBytes
        if size > available { return .quotaExceeded(available: max(0, available)) }
        return nil
    }
}
