/// Why file records are removed: it decides the event (`file.deleted` or
/// `file.expired`) and the reason their store objects are queued with.
public enum FileRemoval: String, Sendable {
    case deleted = "deleted"
    case expired = "expired"
    case workflowRunDeleted = "workflow_run_deleted"
    case removedByAdministrator = "removed_by_administrator"
    case userDeleted = "user_deleted"
    case organizationDeleted = "organization_deleted"

    /// The pending delete's reason, as the clean-up reports it.
    var pendingDeleteReason: String {
        switch self {
        case .deleted: return "file deleted"
        case .expired: return "file expired"
        case .workflowRunDeleted: return "workflow run deleted"
        case .removedByAdministrator: return "file removed by an administrator"
        case .userDeleted: return "user deleted"
        case .organizationDeleted: return "organization deleted"
        }
    }
}
