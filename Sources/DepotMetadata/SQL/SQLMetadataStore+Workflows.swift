import DepotDomain
import Foundation

extension SQLMetadataStore {
    // MARK: Workflow files

    /// One page of a workflow's files and their total, in one read
    /// transaction, from the index `files_by_workflow (organization_id,
    /// workflow_id, run_id, uploaded_at)`: with a run, the page is a range of
    /// it, and a page past the middle is read from its other end, so the last
    /// page costs what the first does. The total is a count over the index.
    public func listWorkflowFiles(_ q: WorkflowFileQuery) throws -> (files: [StoredFile], total: Int64) {
        var filter = "organization_id = ? AND workflow_id = ?"
        var args: [SQLValue] = [.text(q.organizationID), .text(q.workflowID)]
        if let run = q.runID {
            filter += " AND run_id = ?"
            args.append(.text(run))
        }
        if let direction = q.direction {
            filter += " AND direction = ?"
            args.append(.text(direction.rawValue))
        }
        if let uploader = q.uploaderID {
            filter += " AND user_id = ?"
            args.append(.text(uploader))
        }
        return try db.readTransaction {
            let total = try db.first("SELECT COUNT(*) FROM files WHERE \(filter)", args) { $0.int(0) } ?? 0
            let offset = Int64(q.page - 1) * Int64(q.pageSize)
            guard offset < total else { return ([], total) }
            let reverse = offset > total / 2
            let direction = ((q.order == .asc) != reverse) ? "ASC" : "DESC"
            let limit = min(Int64(q.pageSize), total - offset)
            let effectiveOffset = reverse ? total - offset - limit : offset
            var files = try db.all("""
                SELECT \(Self.fileColumns) FROM files WHERE \(filter)
                ORDER BY uploaded_at \(direction), seq \(direction) LIMIT ? OFFSET ?
                """, args + [.int(limit), .int(effectiveOffset)], Self.file)
            if reverse { files.reverse() }
            return (files, total)
        }
    }

    /// Removes the run's files in one transaction, locked in key order (the
    /// order every multi-file delete takes).
    public func deleteWorkflowRun(organizationID: String, workflowID: String, runID: String, uploaderID: String?,
                                  now: Int64) throws -> [StoredFile] {
        var sql = "SELECT \(Self.fileColumns) FROM files WHERE organization_id = ? AND workflow_id = ? AND run_id = ?"
        var args: [SQLValue] = [.text(organizationID), .text(workflowID), .text(runID)]
        if let uploaderID {
            sql += " AND user_id = ?"
            args.append(.text(uploaderID))
        }
        return try db.writeTransaction {
            let files = try db.all(sql + " ORDER BY object_key" + db.locking("files"), args, Self.file)
            try removeFileRecords(files, reason: .workflowRunDeleted, now: now)
            return files
        }
    }
}
