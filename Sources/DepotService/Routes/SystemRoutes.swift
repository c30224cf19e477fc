import DepotHTTP

/// `GET /api/v1/health` and `GET /metrics`: open routes for load balancers
/// and Prometheus (nginx limits who reaches `/metrics`).
struct SystemRoutes {
    let context: ServiceContext

    func register(in table: inout RouteTable) {
        table.open("GET", "/api/v1/health") { _, _ in health() }
        table.open("GET", "/metrics") { _, _ in metrics() }
    }

    func health() -> HTTPResponse {
        var databaseOK = true, storeOK = true
        do { try context.metadata.ping() } catch { databaseOK = false }
        do { try context.store.ping() } catch { storeOK = false }
        let ok = databaseOK && storeOK
        return .json(ok ? 200 : 503, [
            "status": .string(ok ? "ok" : "unavailable"), "database": .string(databaseOK ? "ok" : "error"),
            "store": .string(storeOK ? "ok" : "error"),
        ], headers: ok ? [("Cache-Control", "no-store")] : [("Retry-After", "5"), ("Cache-Control", "no-store")])
    }

    func metrics() -> HTTPResponse {
        let reservations = (try? context.metadata.reservations().count) ?? -1
        let resumable = (try? context.metadata.resumableUploadCounts(now: context.clock.seconds)) ?? (open: -1, expired: -1)
        let expiredFiles = (try? context.metadata.expiredFileCount(now: context.clock.seconds)) ?? -1
        let events = try? context.metadata.eventCounts()
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                            body: Array(context.metrics.render(reservationCount: reservations, openResumableUploads: resumable.open,
                                                               expiredResumableUploads: resumable.expired, expiredFiles: expiredFiles,
                                                               events: events).utf8))
    }
}
