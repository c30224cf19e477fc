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
        switch try Self.reference(raw: raw, identity: identity) {
        case .own(let key, let name):
            self.key = key
            self.name = name
        case .foreign, .workflow:
            throw APIError.notFound
        }
    }

    /// What a raw (percent-encoded) route parameter names, with its 400s.
    static func reference(raw: String, identity: Identity) throws -> ObjectReference {
        guard let decoded = PercentEncoding.decode(raw) else {
            throw APIError.badRequest("The object name is not valid percent-encoded UTF-8.", code: "invalid_object_name")
        }
        return try reference(decoded: decoded, identity: identity)
    }

    /// What a decoded name or key names, with its 400s.
    static func reference(decoded: String, identity: Identity) throws -> ObjectReference {
        do {
            return try ObjectKeys.resolve(decoded, organizationID: identity.organizationID, userID: identity.userID)
        } catch ObjectNameError.invalid(let why) {
            throw APIError.badRequest(why, code: "invalid_object_name")
        }
    }
}
