import Foundation

public struct Plan: Equatable {
    public var name: String
    public var quotaBytes: Int64
    public var maxFileSizeBytes: Int64
    public var maxFiles: Int64
    public var allowedCategories: [FileCategory]
    /// What one member of an organization may hold of its quota (used plus
    /// reserved bytes); nil: no limit per member.
    public var memberQuotaBytes: Int64?

    public init(name: String, quotaBytes: Int64, maxFileSizeBytes: Int64, maxFiles: Int64,
                allowedCategories: [FileCategory] = FileCategory.allCases, memberQuotaBytes: Int64? = nil) {
        self.name = name
        self.quotaBytes = quotaBytes
        self.maxFileSizeBytes = maxFileSizeBytes
        self.maxFiles = maxFiles
        self.allowedCategories = allowedCategories
        self.memberQuotaBytes = memberQuotaBytes
    }

    public static let individual = Plan(name: "individual", quotaBytes: 5 << 30, maxFileSizeBytes: 100 << 20, maxFiles: 10_000)
    public static let organization = Plan(name: "organization", quotaBytes: 100 << 30, maxFileSizeBytes: 5 << 30, maxFiles: 1_000_000)
}
