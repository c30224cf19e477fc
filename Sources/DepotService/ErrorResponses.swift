import DepotHTTP
import DepotMetadata
import DepotStore

/// The one mapping of failures to the contract's JSON errors: what a client
/// may know goes in the body, internal details go to the log only.
struct ErrorResponses {
    let metrics: Metrics

    func response(for error: Error, request: HTTPRequest) -> HTTPResponse {
        apiError(for: error, request: request).response(requestID: request.requestID)
    }

    func apiError(for error: Error, request: HTTPRequest) -> APIError {
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
        return apiError
    }
}
