import DepotAuth
import DepotDomain
import DepotEncoding
import DepotHTTP

/// A route's `{object_name}` decoded and judged: 400 for names no client can
/// legitimately hold, 404 for anything outside the caller's own folder (a
/// workflow file is never matched by a bare name).
struct OwnObjectName {
    let key: String
    let name: String

    init(raw: String, identity: Identity) throws {
        guard let decoded = PercentEncoding.decode(raw) else {
            throw APIError.badRequest("The object name is not valid percent-encoded UTF-8.", code: "invalid_object_name")
        }
        do {
            switch try ObjectKeys.resolve(decoded, organizationID: identity.organizationID, userID: identity.userID) {
            case .own(let key, let name):
                self.key = key
                self.name = name
            case .foreign:
                throw APIError.notFound
            }
        } catch ObjectNameError.invalid(let why) {
            throw APIError.badRequest(why, code: "invalid_object_name")
        }
    }
}
