import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

/// The API of one worker process: routes, authentication and the mapping of
/// every failure to the contract's JSON errors. Knows nothing of FastCGI.
public final class DepotService {
    typealias Handler = (HTTPRequest, [String: String]) throws -> HTTPResponse

    let config: DepotConfiguration
    let metadata: MetadataStore
    let store: S3Client
    let verifier: JWTVerifier
    let links: DownloadLinkSigner
    let metrics: Metrics
    private var router = Router<Handler>()
    /// The user the request in hand authenticated as, for the access log
    /// (also when the request then fails).
    var currentUserID: String?
    /// Tokens this process verified, so a client's repeated token costs one
    /// lookup instead of a signature check; bounded, and expiry still applies.
    private var verifiedTokens: [String: Identity] = [:]
    /// This worker as the owner of its reservations (read once: /proc I/O).
    let owner = ProcessIdentity.current
    /// Failed uploads whose reservation could not be given back at the time
    /// (database locked past the busy timeout, or full). This live worker
    /// owns them, so the clean-up pass leaves them alone until their TTL
    /// (hours of quota held): the worker retries them itself, before each
    /// request and while waiting for one (`retryDeferredWork`).
    var deferredReleases: [(reservationID: String, key: String)] = []
    private var lastDeferredAttempt: UInt64 = 0

    /// Opens the database and the store client. Call after fork: neither may
    /// be shared between processes.
    public init(config: DepotConfiguration, counters: SharedCounters = SharedCounters()) throws {
        self.config = config
        metrics = Metrics(counters: counters)
        metadata = try MetadataStore(path: config.databasePath, busyTimeoutMilliseconds: config.busyTimeoutMilliseconds)
        try metadata.requireCurrentSchema()
        store = S3Client(config.store)
        verifier = JWTVerifier(config.auth)
        links = DownloadLinkSigner(secret: config.masterKeys.linkSigningSecret)
        registerRoutes()
    }

    private func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        router.add(method, pattern, handler)
        metrics.registerRoute(method: method, pattern: pattern)
    }

    private func registerRoutes() {
        let storage = "/api/v1/storage"
        add("GET", "/api/v1/health") { [unowned self] r, _ in try health(r) }
        add("GET", "/metrics") { [unowned self] _, _ in metricsResponse() }
        add("GET", "\(storage)/buckets") { [unowned self] r, _ in try listBuckets(r) }
        add("GET", "\(storage)/buckets/{bucket}/objects") { [unowned self] r, p in try listBucketObjects(r, bucket: p["bucket"] ?? "") }
        add("GET", "\(storage)/files") { [unowned self] r, _ in try listFiles(r) }
        add("POST", "\(storage)/upload") { [unowned self] r, _ in try upload(r) }
        add("GET", "\(storage)/objects/{object_name}/metadata") { [unowned self] r, p in try fileMetadata(r, p["object_name"] ?? "") }
        add("GET", "\(storage)/objects/{object_name}/presigned-url") { [unowned self] r, p in try presignedURL(r, p["object_name"] ?? "") }
        add("DELETE", "\(storage)/objects/{object_name}") { [unowned self] r, p in try deleteFile(r, p["object_name"] ?? "") }
        add("GET", "\(storage)/usage") { [unowned self] r, _ in try usage(r) }
        add("GET", "\(storage)/quota") { [unowned self] r, _ in try quota(r) }
        add("POST", "\(storage)/quota/recalculate") { [unowned self] r, _ in try recalculate(r) }
        add("GET", "/api/v1/objects/download") { [unowned self] r, _ in try download(r) }
        add("HEAD", "/api/v1/objects/download") { [unowned self] r, _ in try download(r) }
        add("GET", "/api/v1/objects/storage-usage") { [unowned self] r, _ in try storageUsage(r) }
    }

    /// Answers one request. Never throws: every failure becomes a JSON error,
    /// and internal details go to the log only.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        retryDeferredWork()
        currentUserID = nil
        var routeIndex: Int?
        var response: HTTPResponse
        do {
            switch router.match(method: request.method, rawPath: request.rawPath) {
            case .notFound:
                throw APIError(404, "not_found", "No route matches \(request.method) on this path.")
            case .methodNotAllowed(let allowed):
                throw APIError(405, "method_not_allowed", "This route does not accept \(request.method).",
                               headers: [("Allow", allowed.joined(separator: ", "))])
            case .found(let handler, let index, _, let parameters):
                routeIndex = index
                response = try handler(request, parameters)
            }
        } catch {
            response = errorResponse(error, request: request)
        }
        if request.method == "HEAD" && !response.headers.contains(where: { $0.0 == "X-Accel-Redirect" }) {
            response.headers.append(("Content-Length", String(response.body.count)))
            response.body = []
        }
        response.logUserID = currentUserID
        metrics.record(routeIndex: routeIndex, status: response.status)
        return response
    }

    func errorResponse(_ error: Error, request: HTTPRequest) -> HTTPResponse {
        let apiError: APIError
        switch error {
        case let e as APIError:
            apiError = e
        case let e as DatabaseError:
            switch e {
            case .busy, .unavailable:
                Log.warning("database unavailable", [("request_id", request.requestID), ("error", e.description)])
                apiError = .unavailable("database_unavailable", "The metadata database is busy or unavailable; retry shortly.")
            default:
                Log.error("database failure", [("request_id", request.requestID), ("error", e.description)])
                apiError = .internalError
            }
        case let e as StoreError:
            metrics.add(.storeErrors)
            Log.warning("object store failure", [("request_id", request.requestID), ("error", e.description)])
            apiError = .unavailable("store_unavailable", "The object store is unavailable; retry shortly.")
        default:
            Log.error("unhandled failure", [("request_id", request.requestID), ("error", String(describing: error))])
            apiError = .internalError
        }
        return apiError.response(requestID: request.requestID)
    }

    // MARK: Deferred clean-up

    /// True while failed uploads still hold reservations this worker must give back.
    public var hasDeferredWork: Bool { !deferredReleases.isEmpty }

    /// Gives back the reservations of failed uploads that could not be
    /// released when they failed, and deletes what they left in the store.
    /// At most every 100 ms, and without waiting on a locked database (an
    /// attempt that fails costs microseconds): a request never pays a busy
    /// timeout for an earlier one's clean-up.
    /// `final`: once more with the normal busy timeout (the worker is exiting;
    /// after that the clean-up pass reclaims them, the owner being gone).
    public func retryDeferredWork(final: Bool = false) {
        guard !deferredReleases.isEmpty else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        if !final && now &- lastDeferredAttempt < 100_000_000 { return }
        lastDeferredAttempt = now
        var remaining: [(reservationID: String, key: String)] = []
        for item in deferredReleases {
            // One busy timeout at most on exit: the rest is the clean-up pass's.
            if final && !remaining.isEmpty {
                remaining.append(item)
                continue
            }
            do {
                let release = {
                    try self.metadata.releaseReservation(id: item.reservationID, now: Int64(Date().timeIntervalSince1970),
                                                         reason: "upload failed")
                }
                if final { try release() } else { try metadata.withBusyTimeout(0, release) }
            } catch {
                remaining.append(item)
                continue
            }
            deleteQueuedObject(item.key, requestID: "-")
        }
        if remaining.count < deferredReleases.count {
            Log.info("deferred upload clean-up done", [("released", String(deferredReleases.count - remaining.count)),
                                                       ("remaining", String(remaining.count))])
        }
        deferredReleases = remaining
    }

    /// Deletes an object queued in pending_deletes and forgets the entry; on
    /// failure the clean-up pass does it later.
    func deleteQueuedObject(_ key: String, requestID: String) {
        do {
            try store.deleteObject(key: key)
            try metadata.completePendingDelete(objectKey: key)
        } catch {
            Log.warning("store delete deferred to clean-up", [("request_id", requestID), ("error", String(describing: error))])
        }
    }

    // MARK: Identity

    /// The caller's identity from a valid bearer token; creates the
    /// organization and user on first sight.
    func authenticate(_ request: HTTPRequest) throws -> Identity {
        guard let token = request.bearerToken else { throw APIError.unauthorized }
        let now = Int64(Date().timeIntervalSince1970)
        let identity: Identity
        if let cached = verifiedTokens[token], now <= cached.expiresAt + Int64(config.auth.leewaySeconds) {
            // The exact token string verified before: same signature, same claims.
            identity = cached
        } else {
            do {
                identity = try verifier.verify(token, now: now)
            } catch let e as AuthError {
                Log.info("token refused", [("request_id", request.requestID), ("reason", e.reason)])
                throw APIError.unauthorized
            }
            // First sight of this token in this worker: make sure its
            // organization and user exist, then remember it (only once that
            // succeeded, so a cached token always has its account).
            try metadata.ensureAccount(organizationID: identity.organizationID, userID: identity.userID,
                                       accountType: identity.accountType.flatMap { AccountKind(rawValue: $0.rawValue) },
                                       individualPlan: config.individualPlan, organizationPlan: config.organizationPlan,
                                       now: now)
            if verifiedTokens.count >= 4096 { verifiedTokens.removeAll(keepingCapacity: true) }
            verifiedTokens[token] = identity
        }
        currentUserID = identity.userID
        return identity
    }

    func account(_ identity: Identity) throws -> Account {
        guard let account = try metadata.account(organizationID: identity.organizationID) else { throw APIError.notFound }
        return account
    }

    // MARK: Small routes

    private func health(_ request: HTTPRequest) throws -> HTTPResponse {
        var databaseOK = true, storeOK = true
        do { try metadata.ping() } catch { databaseOK = false }
        do { try store.ping() } catch { storeOK = false }
        let ok = databaseOK && storeOK
        return .json(ok ? 200 : 503, [
            "status": .string(ok ? "ok" : "unavailable"), "database": .string(databaseOK ? "ok" : "error"), "store": .string(storeOK ? "ok" : "error"),
        ], headers: ok ? [("Cache-Control", "no-store")] : [("Retry-After", "5"), ("Cache-Control", "no-store")])
    }

    private func metricsResponse() -> HTTPResponse {
        let reservations = (try? metadata.reservations().count) ?? -1
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                            body: Array(metrics.render(reservationCount: reservations).utf8))
    }

    private func quota(_ request: HTTPRequest) throws -> HTTPResponse {
        let identity = try authenticate(request)
        return HTTPResponse.json(200, Views.quota(try account(identity)))
    }

    private func usage(_ request: HTTPRequest) throws -> HTTPResponse {
        let identity = try authenticate(request)
        guard let report = try metadata.usage(organizationID: identity.organizationID, userID: identity.userID) else { throw APIError.notFound }
        return HTTPResponse.json(200, Views.usage(report))
    }

    private func recalculate(_ request: HTTPRequest) throws -> HTTPResponse {
        let identity = try authenticate(request)
        guard identity.role == .admin else { throw APIError.forbidden("Only organization administrators may recalculate usage.") }
        guard let before = try metadata.usage(organizationID: identity.organizationID, userID: identity.userID) else { throw APIError.notFound }
        try metadata.recalculate(organizationID: identity.organizationID)
        guard let after = try metadata.usage(organizationID: identity.organizationID, userID: identity.userID) else { throw APIError.notFound }
        return HTTPResponse.json(200, ["before": Views.usage(before), "after": Views.usage(after)])
    }

    private func listBuckets(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try authenticate(request)
        let buckets = try metadata.buckets()
        return HTTPResponse.json(200, ["buckets": .array(buckets.map {
            ["name": .string($0.name), "created_at": .string(Timestamps.rfc3339($0.createdAt))]
        })])
    }

    private func storageUsage(_ request: HTTPRequest) throws -> HTTPResponse {
        let identity = try authenticate(request)
        var createdBy: String?
        if let c = request.query["createdBy"] {
            guard UUIDs.isValid(c) else { throw APIError.invalidParameter("createdBy must be a UUID.") }
            guard identity.role == .admin else { throw APIError.forbidden("Only organization administrators may filter by user.") }
            createdBy = c.lowercased()
        }
        let report = try metadata.storageUsage(organizationID: identity.organizationID, createdBy: createdBy)
        return HTTPResponse.json(200, Views.storageUsage(report, organizationID: identity.organizationID))
    }
}

extension DepotService {
    /// Query integer in a range, or a 422 naming the parameter.
    func intParameter(_ request: HTTPRequest, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.query[name] else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw APIError.invalidParameter("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound).")
        }
        return n
    }

    func enumParameter<E: RawRepresentable>(_ request: HTTPRequest, _ name: String, default value: E) throws -> E where E.RawValue == String {
        guard let text = request.query[name] else { return value }
        guard let v = E(rawValue: text) else { throw APIError.invalidParameter("\(name) has an unsupported value.") }
        return v
    }
}
