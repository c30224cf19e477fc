import DepotAuth
import DepotHTTP

/// Turns a bearer token into the caller's identity. No side effects: it
/// writes nothing (the account is `AccountRegistry`'s job). Tokens this
/// worker verified before are remembered, so a client's repeated token costs
/// one dictionary lookup instead of a signature check; expiry still applies.
final class Authenticator {
    private let verifier: JWTVerifier
    private let leewaySeconds: Int64
    private let clock: WallClock
    private var verified: [String: Identity] = [:]
    private static let cacheLimit = 4096

    init(verifier: JWTVerifier, leewaySeconds: Int, clock: WallClock) {
        self.verifier = verifier
        self.leewaySeconds = Int64(leewaySeconds)
        self.clock = clock
    }

    /// The identity of a request that must carry a valid token; 401 otherwise.
    func identity(for request: HTTPRequest) throws -> Identity {
        guard let token = request.bearerToken else { throw APIError.unauthorized }
        do {
            return try identity(token: token)
        } catch let e as AuthError {
            Log.info("token refused", [("request_id", request.requestID), ("reason", e.reason)])
            throw APIError.unauthorized
        }
    }

    /// The identity of a request whose token is optional (downloads): nil
    /// without a token or with an invalid one.
    func optionalIdentity(for request: HTTPRequest) -> Identity? {
        request.bearerToken.flatMap { try? identity(token: $0) }
    }

    private func identity(token: String) throws -> Identity {
        let now = clock.seconds
        // The exact token string verified before: same signature, same claims.
        if let cached = verified[token], now <= cached.expiresAt + leewaySeconds { return cached }
        let identity = try verifier.verify(token, now: now)
        if verified.count >= Self.cacheLimit { verified.removeAll(keepingCapacity: true) }
        verified[token] = identity
        return identity
    }
}
