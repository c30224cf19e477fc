import DepotHTTP

/// `GET /api/v1/health` and `GET /metrics`: open routes for load balancers
/// and Prometheus (nginx limits who reaches `/metrics`).
struct SystemRoutes {
    let context: ServiceContext

    func register(in table: inout RouteTable) {
        table.open("GET", "/api/v1/health") { _, _ in health() }
        table.open("GET", "/metrics") { _, _ in metrics() }
    }

    /// 200 while every dependency the routes need answers; 503 naming the
    /// one that does not. The virus scanner is named when one is configured,
    /// and makes the answer 503 only when uploads wait for it (no `fail_open`).
    func health() -> HTTPResponse {
        var databaseOK = true, storeOK = true
        do { try context.metadata.ping() } catch { databaseOK = false }
        do { try context.store.ping() } catch { storeOK = false }
        var fields: [(String, JSONValue)] = [("database", .string(databaseOK ? "ok" : "error")), ("store", .string(storeOK ? "ok" : "error"))]
        var ok = databaseOK && storeOK
        if let scanner = context.scanner {
            let scannerOK = scanner.ping()
            fields.append(("antivirus", .string(scannerOK ? "ok" : "error")))
            ok = ok && (scannerOK || context.config.antivirus?.failOpen == true)
        }
        return .json(ok ? 200 : 503, .object([("status", .string(ok ? "ok" : "unavailable"))] + fields),
                     headers: ok ? [("Cache-Control", "no-store")] : [("Retry-After", "5"), ("Cache-Control", "no-store")])
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
