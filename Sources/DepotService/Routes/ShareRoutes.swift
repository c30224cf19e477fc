import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// Sharing inside an organization (CONTRACT.md, "Sharing inside an
/// organization"): a file's owner, or an organization admin, grants one
/// member or the whole organization the right to read it. Grantees read
/// (metadata, download) and nothing else; a revoked share is gone on the
/// next request, because every read asks the database.
struct ShareRoutes {
    let context: ServiceContext

    func register(in table: inout RouteTable) {
        let shares = "/api/v1/storage/objects/{object_name}/shares"
        table.authenticated("POST", shares) { request, p, identity in try create(request, p["object_name"] ?? "", identity) }
        table.authenticated("GET", shares) { _, p, identity in try list(p["object_name"] ?? "", identity) }
        table.authenticated("DELETE", "/api/v1/storage/shares/{share_id}") { _, p, identity in try revoke(p["share_id"] ?? "", identity) }
    }

    private func create(_ request: HTTPRequest, _ raw: String, _ identity: Identity) throws -> HTTPResponse {
        let file = try managedFile(raw, identity)
        guard let account = try context.metadata.account(organizationID: identity.organizationID) else { throw APIError.notFound }
        guard account.accountType == .organization else {
            throw APIError(403, "sharing_not_available", "Individual accounts cannot share files; sharing is between members of an organization.")
        }
        let grantee = try Self.grantee(try JSONRequestBody.object(request, maxBytes: 1024), owner: file.userID)
        let share = Share(id: UUIDs.random(), organizationID: identity.organizationID, objectKey: file.objectKey, ownerID: file.userID,
                          granteeUserID: grantee, createdBy: identity.userID, createdAt: context.clock.seconds)
        switch try context.metadata.createShare(share) {
        case .created(let s): return .json(201, Views.share(s))
        case .existing(let s): return .json(200, Views.share(s))
        case .noFile: throw APIError.notFound
        case .unknownGrantee:
            throw Self.invalidShare("That user is not a member of this organization (members are known once they have used Depot).")
        }
    }

    private func list(_ raw: String, _ identity: Identity) throws -> HTTPResponse {
        let file = try managedFile(raw, identity)
        return .json(200, ["shares": .array(try context.metadata.shares(objectKey: file.objectKey).map(Views.share))])
    }

    private func revoke(_ raw: String, _ identity: Identity) throws -> HTTPResponse {
        guard let id = UUIDs.canonical(raw) else { throw APIError.badRequest("The share id must be a UUID.", code: "invalid_id") }
        guard let share = try context.metadata.share(id: id), share.organizationID == identity.organizationID,
              share.ownerID == identity.userID || identity.isAdmin else {
            throw APIError(404, "not_found", "No such share.")
        }
        guard try context.metadata.deleteShare(id: id) else { throw APIError(404, "not_found", "No such share.") }
        return .noContent()
    }

    /// The file named, when the caller may manage its shares: its owner, or
    /// an admin of its organization. Everyone else, grantees included, 404.
    private func managedFile(_ raw: String, _ identity: Identity) throws -> StoredFile {
        let object = try OrganizationObjectName(raw: raw, identity: identity)
        guard let file = try context.metadata.file(key: object.key), file.organizationID == identity.organizationID,
              file.workflowID == nil, file.userID == identity.userID || identity.isAdmin else { throw APIError.notFound }
        return file
    }

    /// The body's grantee: a member's id, or nil for the whole organization.
    static func grantee(_ fields: [String: Any], owner: String) throws -> String? {
        for key in fields.keys where key != "user_id" && key != "organization" {
            throw invalidShare("Unknown field \(key); send {\"user_id\": \"…\"} or {\"organization\": true}.")
        }
        switch (fields["user_id"], fields["organization"]) {
        case (let user?, nil):
            guard let text = user as? String, let id = UUIDs.canonical(text) else { throw invalidShare("user_id must be a user id (UUID).") }
            guard id != owner else { throw invalidShare("The owner can already read the file.") }
            return id
        case (nil, let organization?):
            guard let flag = organization as? Bool, flag, JSONRequestBody.isBoolean(organization) else {
                throw invalidShare("organization must be true.")
            }
            return nil
        default:
            throw invalidShare("Send exactly one of {\"user_id\": \"…\"} or {\"organization\": true}.")
        }
    }

    static func invalidShare(_ message: String) -> APIError { APIError(422, "invalid_share", message) }
}
