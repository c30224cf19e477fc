import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// One-time console logins: `depotctl token issue --console` prints a link
/// to `/console/#login=CODE`; the page posts the code here once and keeps
/// the token it gets in `sessionStorage`. The code lives minutes, works
/// once, and only its secret's SHA-256 is stored; the token is minted here
/// with the deployment's HS256 secret and stored nowhere.
struct ConsoleSessionRoutes {
    let context: ServiceContext
    private let issuer: TokenIssuer?
    static let path = "/api/v1/console/sessions"
    /// `{"code": "…"}` with a 64-character code; more is not a login.
    static let maxBodyBytes = 1024

    init(context: ServiceContext) {
        self.context = context
        issuer = TokenIssuer(configuration: context.config.auth)
    }

    func register(in table: inout RouteTable) {
        table.open("POST", Self.path) { request, _ in try redeem(request) }
    }

    private func redeem(_ request: HTTPRequest) throws -> HTTPResponse {
        let fields = try JSONRequestBody.object(request, maxBytes: Self.maxBodyBytes)
        for key in fields.keys where key != "code" {
            throw APIError.invalidParameter("Unknown field \(key); the only field is code.")
        }
        guard let text = fields["code"] as? String else { throw APIError.invalidParameter("code (the login link's code) is required.") }
        func refuse(_ reason: String) -> APIError {
            Log.info("console login refused", [("request_id", request.requestID), ("reason", reason)])
            return APIError(401, "invalid_login_code", "The login link is invalid, used or expired; ask for a new one.")
        }
        guard let issuer else { throw refuse("no HS256 key configured") }
        guard let code = SecretToken(text) else { throw refuse("malformed") }
        guard let login = try context.metadata.consoleLogin(id: code.id) else { throw refuse("unknown code") }
        guard code.matches(secretHash: login.secretHash) else { throw refuse("wrong secret") }
        guard let role = Role(rawValue: login.role) else { throw refuse("unknown role \(login.role)") }
        // The claim alone decides (unused, unexpired; of two tabs racing
        // with one code, the first): the row read above only names why not.
        let now = context.clock.seconds
        guard try context.metadata.claimConsoleLogin(id: login.id, now: now) else {
            throw refuse(login.usedAt == nil && login.expiresAt <= now ? "expired" : "used")
        }
        let token = issuer.issue(userID: login.userID, organizationID: login.organizationID, role: role,
                                 accountType: login.accountType, issuedAt: now, lifetime: login.tokenLifetime)
        Log.info("console login", [("request_id", request.requestID), ("user_id", login.userID), ("organization_id", login.organizationID)])
        return .json(201, ["token": .string(token), "expires_at": .string(Timestamps.rfc3339(now + login.tokenLifetime))],
                     headers: [("Cache-Control", "no-store")])
    }
}
