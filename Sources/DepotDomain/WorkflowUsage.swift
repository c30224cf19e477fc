import Foundation

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
