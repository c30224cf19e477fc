import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// A route's handler, and what must be true before it runs.
enum RouteHandler {
    /// Runs for anyone (health, metrics, downloads that judge their own link).
    case open((HTTPRequest, [String: String]) throws -> HTTPResponse)
    /// Runs only once a valid bearer token identified the caller and their
    /// account exists; gets that identity.
    case authenticated((HTTPRequest, [String: String], Identity) throws -> HTTPResponse)
    /// As `authenticated`, with the caller's organization account, read
    /// with the step that makes sure it exists (one read for both).
    case authenticatedAccount((HTTPRequest, [String: String], Identity, Account) throws -> HTTPResponse)
    /// As `authenticated`, but the handler makes sure of the account itself,
    /// with the closure it gets, unless it answers from a record the caller
    /// owns: an owner exists (its records go when it goes), so a read of
    /// the caller's own file takes one query instead of two. A handler that
    /// throws has the account made sure of before its error is answered.
    case authenticatedOwnerFirst((HTTPRequest, [String: String], Identity, _ ensureAccount: () throws -> Void) throws -> HTTPResponse)
    /// As `authenticated`, or, for a request without a bearer token, for the
    /// user of the signed upload link its `upload_token` names (checked).
    case uploadLinkOrAuthenticated((HTTPRequest, [String: String], Identity, UploadLink?) throws -> HTTPResponse)
}

/// The routes of the API as the route groups declare them. Parameters reach
/// handlers raw (still percent-encoded): decoding them is the handler's job.
struct RouteTable {
    private(set) var router = Router<RouteHandler>()
    private(set) var routes: [(method: String, pattern: String)] = []

    mutating func open(_ method: String, _ pattern: String,
                       _ handler: @escaping (HTTPRequest, [String: String]) throws -> HTTPResponse) {
        add(method, pattern, .open(handler))
    }

    mutating func authenticated(_ method: String, _ pattern: String,
                                _ handler: @escaping (HTTPRequest, [String: String], Identity) throws -> HTTPResponse) {
        add(method, pattern, .authenticated(handler))
    }

    mutating func authenticatedAccount(_ method: String, _ pattern: String,
                                       _ handler: @escaping (HTTPRequest, [String: String], Identity, Account) throws -> HTTPResponse) {
        add(method, pattern, .authenticatedAccount(handler))
    }

    mutating func authenticatedOwnerFirst(_ method: String, _ pattern: String,
                                          _ handler: @escaping (HTTPRequest, [String: String], Identity, _ ensureAccount: () throws -> Void) throws -> HTTPResponse) {
        add(method, pattern, .authenticatedOwnerFirst(handler))
    }

    mutating func uploadLinkOrAuthenticated(_ method: String, _ pattern: String,
                                            _ handler: @escaping (HTTPRequest, [String: String], Identity, UploadLink?) throws -> HTTPResponse) {
        add(method, pattern, .uploadLinkOrAuthenticated(handler))
    }

    private mutating func add(_ method: String, _ pattern: String, _ handler: RouteHandler) {
        router.add(method, pattern, handler)
        routes.append((method, pattern))
    }
}
