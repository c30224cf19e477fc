import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// Workflow files (CONTRACT.md, "Workflow files can be managed"): one
/// workflow's files page by page, and a run's files deleted at once. A
/// member sees and deletes the files they uploaded; an organization admin
/// those of every member.
struct WorkflowRoutes {
    let context: ServiceContext
    let cleanup: StoreCleanup

    func register(in table: inout RouteTable) {
        table.authenticated("GET", "/api/v1/storage/workflows/{workflow_id}/files") { request, p, identity in
            try listFiles(request, p["workflow_id"] ?? "", identity)
        }
        table.authenticated("DELETE", "/api/v1/storage/workflows/{workflow_id}/runs/{run_id}") { request, p, identity in
            try deleteRun(request, p["workflow_id"] ?? "", p["run_id"] ?? "", identity)
        }
    }

    func listFiles(_ request: HTTPRequest, _ rawWorkflowID: String, _ identity: Identity) throws -> HTTPResponse {
        let workflowID = try Self.uuid(rawWorkflowID, "workflow_id")
        let runID = try request.query["run_id"].map { try Self.uuid($0, "run_id") }
        let direction = try request.query["direction"].map { text -> ObjectKeys.Direction in
            guard let d = ObjectKeys.Direction(rawValue: text) else { throw APIError.invalidParameter("direction must be input or output.") }
            return d
        }
        let page = try request.intParameter("page", default: 1, range: 1...10_000_000)
        let pageSize = try request.intParameter("page_size", default: 20, range: 1...100)
        let order: ListOrder = try request.enumParameter("order", default: .desc)
        let query = WorkflowFileQuery(organizationID: identity.organizationID, workflowID: workflowID, runID: runID, direction: direction,
                                      uploaderID: identity.isAdmin ? nil : identity.userID, order: order, page: page, pageSize: pageSize)
        let result = try context.metadata.listWorkflowFiles(query)
        let totalPages = (result.total + Int64(pageSize) - 1) / Int64(pageSize)
        return .json(200, [
            "files": Views.files(result.files),
            "pagination": ["page": .int(Int64(page)), "page_size": .int(Int64(pageSize)), "total": .int(result.total), "total_pages": .int(totalPages)],
        ])
    }

    /// The records and their quota go in one transaction, then the objects
    /// (what the store refuses now, the next clean-up pass deletes).
    func deleteRun(_ request: HTTPRequest, _ rawWorkflowID: String, _ rawRunID: String, _ identity: Identity) throws -> HTTPResponse {
        let workflowID = try Self.uuid(rawWorkflowID, "workflow_id")
        let runID = try Self.uuid(rawRunID, "run_id")
        let removed = try context.metadata.deleteWorkflowRun(organizationID: identity.organizationID, workflowID: workflowID, runID: runID,
                                                             uploaderID: identity.isAdmin ? nil : identity.userID, now: context.clock.seconds)
        cleanup.deleteQueuedObjects(removed.map(\.objectKey), requestID: request.requestID)
        return .json(200, ["deleted": .int(Int64(removed.count)), "freed_bytes": .int(removed.reduce(0) { $0 + $1.size })])
    }

    /// A workflow or run id: a UUID (stored lowercase), else 400.
    static func uuid(_ text: String, _ name: String) throws -> String {
        guard let id = UUIDs.canonical(text) else { throw APIError.invalidParameter("\(name) must be a UUID.") }
        return id
    }
}
