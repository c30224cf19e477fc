import DepotDomain

/// A file an upload route has accepted for storing: its name and key in the
/// store, what the client declared and what Depot checked. Every upload
/// route (the form POST today, resumable and signed uploads next) builds one
/// and hands it to `FileIngest`.
struct IncomingFile {
    var key: String
    var objectName: String
    var originalFilename: String
    var size: Int64
    var contentType: String
    var category: FileCategory
    var workflow: WorkflowTarget?
    /// Seconds after the upload at which the periodic clean-up deletes the file (`expires_in`).
    var expiresIn: Int64?
}

/// The workflow a file belongs to, from the form's `workflow_id`, `run_id`,
/// `direction` and optional `workflow_name`.
struct WorkflowTarget {
    var id: String
    var run: String
    var direction: ObjectKeys.Direction
    var name: String?
}
