/// Which files `GET /files` lists: the caller's own, those others shared
/// with the caller, or (admins) every file of the organization.
public enum FileScope: String { case own, shared, organization }
