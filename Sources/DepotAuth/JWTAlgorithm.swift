/// The JWS algorithms Depot accepts. Which ones a deployment accepts is
/// decided by its configured keys, never by the token.
public enum JWTAlgorithm: String, Sendable, Equatable, CaseIterable {
    case hs256 = "HS256"
    case es256 = "ES256"
    case rs256 = "RS256"
}
