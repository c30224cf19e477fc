import Foundation

public struct StorageUsageReport: Equatable {
    public var totalBytes: Int64
    public var inputBytes: Int64
    public var outputBytes: Int64
    public var fileCount: Int64
    /// The largest workflows first, at most `breakdownLimit` of them.
    public var breakdown: [WorkflowUsage]
    /// More workflows hold files than `breakdown` lists.
    public var breakdownTruncated: Bool
    public static let breakdownLimit = 100

    public init(totalBytes: Int64, inputBytes: Int64, outputBytes: Int64, fileCount: Int64, breakdown: [WorkflowUsage],
                breakdownTruncated: Bool = false) {
        self.totalBytes = totalBytes
        self.inputBytes = inputBytes
        self.outputBytes = outputBytes
        self.fileCount = fileCount
        self.breakdown = breakdown
        self.breakdownTruncated = breakdownTruncated
    }
}
