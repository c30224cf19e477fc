import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// The caller's signed download links (CONTRACT.md, "Download links can be
/// listed and revoked"): `presigned-url` records each one; here its maker
/// lists the unexpired ones and revokes any, after which its URL gets 404.
struct DownloadLinkRoutes {
    let context: ServiceContext
    static let collection = "/api/v1/storage/links"
    /// The listing's bound: a user with more live links sees the newest this many.
    static let listLimit = 1000

    func register(in table: inout RouteTable) {
        table.authenticated("GET", Self.collection) { _, _, identity in try list(identity) }
        table.authenticated("DELETE", Self.collection + "/{link_id}") { _, p, identity in try revoke(p["link_id"] ?? "", identity) }
    }

    private func list(_ identity: Identity) throws -> HTTPResponse {
        let links = try context.metadata.downloadLinks(organizationID: identity.organizationID, userID: identity.userID,
                                                       now: context.clock.seconds, limit: Self.listLimit)
        return .json(200, ["links": .array(links.map { link in
            ["id": .string(link.id), "object_key": .string(link.objectKey), "type": .string(link.disposition.rawValue),
             "expires_at": .string(Timestamps.rfc3339(link.expiresAt)), "created_at": .string(Timestamps.rfc3339(link.createdAt))]
        })], headers: [("Cache-Control", "no-store")])
    }

    private func revoke(_ raw: String, _ identity: Identity) throws -> HTTPResponse {
        guard let id = UUIDs.canonical(raw) else { throw APIError.invalidParameter("A link id is a UUID.") }
        // Another user's link is as unknown as a missing one.
        guard try context.metadata.deleteDownloadLink(id: id, organizationID: identity.organizationID, userID: identity.userID) else {
            throw APIError(404, "not_found", "No such download link.")
        }
        return .noContent()
    }
}
