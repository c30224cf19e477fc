import DepotAuth
import DepotHTTP
import Foundation

/// The API of one worker process: the route groups, the authentication
/// step, and every failure mapped to the contract's JSON errors. Knows
/// nothing of FastCGI; tests drive it in-process with `handle`.
public final class DepotApplication {
    public let context: ServiceContext
    private let table: RouteTable
    private let authenticator: Authenticator
    private let accounts: AccountRegistry
    private let uploadLinks: UploadLinkAuthenticator
    private let cleanup: StoreCleanup
    private let errors: ErrorResponses
    private let tusCORS: TusCORS

    public init(context: ServiceContext) {
        self.context = context
        authenticator = Authenticator(verifier: JWTVerifier(context.config.auth), leewaySeconds: context.config.auth.leewaySeconds,
                                      clock: context.clock)
        accounts = AccountRegistry(context: context)
        uploadLinks = UploadLinkAuthenticator(context: context)
        cleanup = StoreCleanup(context: context)
        errors = ErrorResponses(metrics: context.metrics)
        tusCORS = TusCORS(allowedOrigins: context.config.corsOrigins)
        var table = RouteTable()
        SystemRoutes(context: context).register(in: &table)
        BucketRoutes(context: context).register(in: &table)
        StorageFileRoutes(context: context, cleanup: cleanup).register(in: &table)
        UploadRoutes(context: context, cleanup: cleanup).register(in: &table)
        ResumableUploadRoutes(context: context, cleanup: cleanup).register(in: &table)
        UploadLinkRoutes(context: context).register(in: &table)
        ConsoleSessionRoutes(context: context).register(in: &table)
        ShareRoutes(context: context).register(in: &table)
        DownloadLinkRoutes(context: context).register(in: &table)
        UsageRoutes(context: context).register(in: &table)
        WorkflowRoutes(context: context, cleanup: cleanup).register(in: &table)
        DownloadRoutes(context: context, authenticator: authenticator).register(in: &table)
        for route in table.routes { context.metrics.registerRoute(method: route.method, pattern: route.pattern) }
        self.table = table
    }

    /// Opens the database and the store client for this worker. Call after fork.
    public convenience init(config: DepotConfiguration, counters: SharedCounters = SharedCounters()) throws {
        self.init(context: try ServiceContext.open(config: config, counters: counters))
    }

    /// Answers one request. Never throws: every failure becomes a JSON error,
    /// and internal details go to the log only.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        cleanup.retryDeferredReleases()
        var routeIndex: Int?
        // The user the request authenticated as, for the access log (also
        // when the request then fails).
        var userID: String?
        var response: HTTPResponse
        var refusal: APIError?
        func authenticate() throws -> Identity {
            let identity = try authenticator.identity(for: request)
            userID = identity.userID
            return identity
        }
        do {
            switch table.router.match(method: request.method, rawPath: request.rawPath) {
            case .notFound:
                throw APIError(404, "not_found", "No route matches \(request.method) on this path.")
            case .methodNotAllowed(let allowed):
                throw APIError(405, "method_not_allowed", "This route does not accept \(request.method).",
                               headers: [("Allow", allowed.joined(separator: ", "))])
            case .found(let handler, let index, _, let parameters):
                routeIndex = index
                switch handler {
                case .open(let run):
                    response = try run(request, parameters)
                case .authenticated(let run):
                    let identity = try authenticate()
                    try accounts.ensure(identity)
                    response = try run(request, parameters, identity)
                case .authenticatedAccount(let run):
                    let identity = try authenticate()
                    response = try run(request, parameters, identity, try accounts.ensuredAccount(identity))
                case .authenticatedOwnerFirst(let run):
                    let identity = try authenticate()
                    var ensured = false
                    func ensureAccount() throws {
                        if !ensured { try accounts.ensure(identity) }
                        ensured = true
                    }
                    do {
                        response = try run(request, parameters, identity, ensureAccount)
                    } catch {
                        try ensureAccount()
                        throw error
                    }
                case .uploadLinkOrAuthenticated(let run):
                    if request.bearerToken == nil, let token = request.query["upload_token"] {
                        let (identity, link) = try uploadLinks.identity(token: token, request: request)
                        userID = identity.userID
                        response = try run(request, parameters, identity, link)
                    } else {
                        let identity = try authenticate()
                        try accounts.ensure(identity)
                        response = try run(request, parameters, identity, nil)
                    }
                }
            }
        } catch {
            let apiError = errors.apiError(for: error, request: request)
            refusal = apiError
            response = apiError.response(requestID: request.requestID)
        }
        let cors = tusCORS.headers(for: request)
        if request.isUploadAdmission {
            response = UploadAdmission.answer(refusal, cors: cors)
        } else {
            response.headers += cors
        }
        if request.method == "HEAD" && !response.headers.contains(where: { $0.0 == "X-Accel-Redirect" }) {
            response.headers.append(("Content-Length", String(response.body.count)))
            response.body = []
        }
        if let userID { response.logUserID = userID }
        context.metrics.record(routeIndex: routeIndex, status: response.status)
        return response
    }

    /// See `StoreCleanup.retryDeferredReleases`.
    public func retryDeferredWork(final: Bool = false) { cleanup.retryDeferredReleases(final: final) }
}
