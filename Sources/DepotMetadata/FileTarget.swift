/// A file a delete may remove: its key, and the user whose file it must be.
/// `ownerID` nil: any member's file of the organization (an admin deleting
/// a workflow file).
public struct FileTarget: Equatable, Hashable {
    public var key: String
    public var ownerID: String?

    public init(key: String, ownerID: String?) {
        self.key = key
        self.ownerID = ownerID
    }
}
