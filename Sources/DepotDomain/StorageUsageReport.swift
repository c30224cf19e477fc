import Foundation

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
