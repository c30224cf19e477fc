import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// A name as the routes that manage a file (its metadata, its deletion)
/// take it: the caller's own file by name or key, or a workflow file of the
/// caller's organization by its full key, which its uploader and the
/// organization's admins may manage. Malformed names are 400 (as for
/// `OwnObjectName`); what the caller may not reach is `nil` (answered 404).
struct ManagedObjectName {
    /// The file the name may designate, and whose it must be.
    let target: FileTarget

    init?(_ reference: ObjectReference, identity: Identity) {
        switch reference {
        case .own(let key, _):
            target = FileTarget(key: key, ownerID: identity.userID)
        case .workflow(let key):
            target = FileTarget(key: key, ownerID: identity.isAdmin ? nil : identity.userID)
        case .foreign:
            return nil
        }
    }

    /// True when `file` is the one this name lets the caller manage.
    func admits(_ file: StoredFile, identity: Identity) -> Bool {
        file.objectKey == target.key && file.organizationID == identity.organizationID
            && (target.ownerID == nil || file.userID == target.ownerID)
    }
}
