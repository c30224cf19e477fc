import DepotDomain

/// One page of a workflow's files: which run and direction, whose files
/// (`uploaderID` nil: every member's, for an admin), newest or oldest first.
public struct WorkflowFileQuery: Equatable {
    public var organizationID: String
    public var workflowID: String
    public var runID: String?
    public var direction: ObjectKeys.Direction?
    public var uploaderID: String?
    public var order: ListOrder
    public var page: Int
    public var pageSize: Int

    public init(organizationID: String, workflowID: String, runID: String? = nil, direction: ObjectKeys.Direction? = nil,
                uploaderID: String?, order: ListOrder = .desc, page: Int = 1, pageSize: Int = 20) {
        self.organizationID = organizationID
        self.workflowID = workflowID
        self.runID = runID
        self.direction = direction
        self.uploaderID = uploaderID
        self.order = order
        self.page = page
        self.pageSize = pageSize
    }
}
