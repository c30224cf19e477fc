import DepotAuth
import DepotDomain
import DepotEncoding
import DepotHTTP

/// A route's `{object_name}` where the caller may name a file of another
/// member of their organization (one shared with them, or any, for an
/// admin): their own files by name or key as `OwnObjectName` judges them,
/// anyone else's only by full key inside the organization's user folders.
/// Whether the caller may touch that file is the route's decision.
struct OrganizationObjectName {
    let key: String
    /// Set when the name is in the caller's own folder.
    let own: OwnObjectName?

    init(raw: String, identity: Identity) throws {
        do {
            let own = try OwnObjectName(raw: raw, identity: identity)
            self.key = own.key
            self.own = own
        } catch let error as APIError where error.status == 404 {
            // Decoded and valid (OwnObjectName throws 400 otherwise), but not
            // the caller's: only another member's user-file key qualifies.
            guard let decoded = PercentEncoding.decode(raw),
                  decoded.hasPrefix("organizations/\(identity.organizationID)/files/") else { throw APIError.notFound }
            self.key = decoded
            self.own = nil
        }
    }
}
