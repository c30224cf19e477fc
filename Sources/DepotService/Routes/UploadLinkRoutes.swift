import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata
import Foundation

/// Signed upload links (CONTRACT.md, "Signed upload links"): a user makes a
/// link that lets its holder upload one file as that user, without a token,
/// bound to a category and a size, until it expires or is revoked. The
/// upload itself is `POST /api/v1/storage/upload?upload_token=…`.
struct UploadLinkRoutes {
    let context: ServiceContext
    static let collection = "/api/v1/storage/upload-urls"
    static let expiresInRange: ClosedRange<Int64> = 1...86_400
    /// A link request is a few fields; more is not one.
    static let maxBodyBytes = 4096

    func register(in table: inout RouteTable) {
        table.authenticated("POST", Self.collection) { request, _, identity in try create(request, identity) }
        table.authenticated("DELETE", Self.collection + "/{link_id}") { _, p, identity in try revoke(p["link_id"] ?? "", identity) }
    }

    private func create(_ request: HTTPRequest, _ identity: Identity) throws -> HTTPResponse {
        let fields = try JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes)
        for key in fields.keys where !["category", "expires_in", "max_size"].contains(key) {
            throw APIError.invalidParameter("Unknown field \(key); the fields are category, expires_in and max_size.")
        }
        guard let account = try context.metadata.account(organizationID: identity.organizationID) else { throw APIError.notFound }
        var category: FileCategory?
        if let value = fields["category"] {
            guard let text = value as? String, let c = FileCategory(rawValue: text) else {
                throw APIError.invalidField("category must be data_source, profile_image or general.", code: "invalid_category")
            }
            guard account.plan.allowedCategories.contains(c) else {
                throw APIError.invalidField("The \(account.plan.name) plan does not allow the \(c.rawValue) category.", code: "invalid_category")
            }
            category = c
        }
        let expiresIn = try Self.integer(fields["expires_in"], "expires_in", range: Self.expiresInRange) ?? 3600
        let limit = category == .profileImage ? min(account.plan.maxFileSizeBytes, FileCategory.profileImageMaxBytes) : account.plan.maxFileSizeBytes
        // Above what the plan (or a profile image) allows, however large:
        // the link allows that much.
        var maxSize = limit
        if let value = fields["max_size"] {
            guard let number = value as? NSNumber, !JSONRequestBody.isBoolean(number),
                  number.doubleValue >= 1, number.doubleValue.rounded() == number.doubleValue else {
                throw APIError.invalidParameter("max_size must be a whole number of bytes, at least 1.")
            }
            maxSize = number.doubleValue >= Double(limit) ? limit : Int64(number.doubleValue)
        }

        let token = SecretToken.generate()
        let now = context.clock.seconds
        let link = UploadLink(id: token.id, organizationID: identity.organizationID, userID: identity.userID, category: category,
                              maxSize: maxSize, secretHash: token.secretHash, createdAt: now, expiresAt: now + expiresIn,
                              usedAt: nil, revokedAt: nil)
        try context.metadata.createUploadLink(link)
        return .json(201, [
            "id": .string(link.id), "url": .string(context.config.publicURL + "/api/v1/storage/upload?upload_token=" + token.text),
            "expires_at": .string(Timestamps.rfc3339(link.expiresAt)), "expires_in": .int(expiresIn), "max_size": .int(maxSize),
        ], headers: [("Cache-Control", "no-store")])
    }

    private func revoke(_ id: String, _ identity: Identity) throws -> HTTPResponse {
        guard let id = UUIDs.canonical(id) else { throw Self.notFound }
        switch try context.metadata.revokeUploadLink(id: id, organizationID: identity.organizationID, userID: identity.userID,
                                                     now: context.clock.seconds) {
        case .revoked: return HTTPResponse(status: 204)
        case .used: throw APIError(409, "upload_link_used", "The link was already used; the file it brought stays.")
        case .missing: throw Self.notFound
        }
    }

    static let notFound = APIError(404, "not_found", "No such upload link.")

    /// An optional integer field within `range`.
    static func integer(_ value: Any?, _ name: String, range: ClosedRange<Int64>) throws -> Int64? {
        guard let value else { return nil }
        guard let number = value as? NSNumber, !JSONRequestBody.isBoolean(number),
              let exact = Int64(exactly: number.doubleValue), range.contains(exact), Double(exact) == number.doubleValue else {
            throw APIError.invalidParameter("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound).")
        }
        return exact
    }
}
