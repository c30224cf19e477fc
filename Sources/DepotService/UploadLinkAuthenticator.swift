import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// The identity a signed upload link lends its holder: the link's user, for
/// one upload. A token that is malformed, altered, spent, revoked or expired
/// is a plain 401 (the reason goes to the log, the token never does).
final class UploadLinkAuthenticator {
    private let context: ServiceContext

    init(context: ServiceContext) { self.context = context }

    func identity(token text: String, request: HTTPRequest) throws -> (Identity, UploadLink) {
        func refuse(_ reason: String) -> APIError {
            Log.info("upload link refused", [("request_id", request.requestID), ("reason", reason)])
            return APIError(401, "unauthorized", "The upload link is invalid, used, revoked or expired.",
                            headers: [("WWW-Authenticate", "Bearer")])
        }
        guard let token = SecretToken(text) else { throw refuse("malformed") }
        guard let link = try context.metadata.uploadLink(id: token.id) else { throw refuse("unknown link") }
        guard token.matches(secretHash: link.secretHash) else { throw refuse("wrong secret") }
        guard link.revokedAt == nil else { throw refuse("revoked") }
        guard link.usedAt == nil else { throw refuse("used") }
        guard link.expiresAt > context.clock.seconds else { throw refuse("expired") }
        let identity = Identity(userID: link.userID, organizationID: link.organizationID, role: .member, accountType: nil,
                                expiresAt: link.expiresAt)
        return (identity, link)
    }
}
