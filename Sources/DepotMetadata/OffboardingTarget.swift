/// What an administrator removes with everything attached to it
/// (`depotctl user delete`, `org delete`, `file rm`).
public enum OffboardingTarget: Equatable {
    /// One member: their files, the shares of those files and to them, their
    /// links, resumable uploads and reservations, and their user record.
    case user(organizationID: String, userID: String)
    /// The organization with all of its users, files, usage rows and workflows.
    case organization(id: String)
    /// One file record by its object key, with its shares and download links.
    case file(objectKey: String)
}
