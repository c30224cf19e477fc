import CProcess
import DepotMetadata
import Foundation

/// Depot's figures in Prometheus text format.
final class Metrics {
    enum Slot: Int, CaseIterable {
        case workerRestarts, uploadBytes, downloadRequests, quotaRejections, storeErrors, downloadFileBytes, slowUploadsDropped
        case resumableUploadsCreated, resumableUploadsCompleted, resumableUploadsTerminated, checksumMismatches
        case antivirusFilesScanned, antivirusInfected, antivirusErrors, antivirusLetThrough
        var name: String {
            switch self {
            case .workerRestarts: return "depot_worker_restarts_total"
            case .uploadBytes: return "depot_upload_bytes_total"
            case .downloadRequests: return "depot_download_requests_total"
            case .quotaRejections: return "depot_quota_rejections_total"
            case .storeErrors: return "depot_store_errors_total"
            case .downloadFileBytes: return "depot_download_file_bytes_total"
            case .slowUploadsDropped: return "depot_slow_uploads_dropped_total"
            case .resumableUploadsCreated: return "depot_resumable_uploads_created_total"
            case .resumableUploadsCompleted: return "depot_resumable_uploads_completed_total"
            case .resumableUploadsTerminated: return "depot_resumable_uploads_terminated_total"
            case .checksumMismatches: return "depot_upload_checksum_mismatches_total"
            case .antivirusFilesScanned: return "depot_antivirus_files_scanned_total"
            case .antivirusInfected: return "depot_antivirus_infected_total"
            case .antivirusErrors: return "depot_antivirus_errors_total"
            case .antivirusLetThrough: return "depot_antivirus_let_through_total"
            }
        }
        var help: String {
            switch self {
            case .workerRestarts: return "Workers the supervisor replaced after they died."
            case .uploadBytes: return "Bytes of files stored."
            case .downloadRequests: return "Downloads handed to nginx (bytes are counted by nginx)."
            case .quotaRejections: return "Uploads refused for quota, file size or file count."
            case .storeErrors: return "Object store failures seen by requests."
            case .slowUploadsDropped: return "Uploads dropped because their body arrived slower than [uploads] min_bytes_per_second."
            case .downloadFileBytes: return "Sizes of the files handed to nginx for GET downloads (a range request counts the whole file; nginx's log has the bytes sent)."
            case .resumableUploadsCreated: return "Resumable (tus) uploads created."
            case .resumableUploadsCompleted: return "Resumable uploads that became files."
            case .resumableUploadsTerminated: return "Resumable uploads their client deleted."
            case .checksumMismatches: return "Resumable upload chunks refused because they did not match their Upload-Checksum."
            case .antivirusFilesScanned: return "Uploaded files the virus scanner gave a verdict on."
            case .antivirusInfected: return "Uploads refused because the virus scanner found malware (422 malware_detected)."
            case .antivirusErrors: return "Uploads the virus scanner could not judge (unreachable, timed out or failing)."
            case .antivirusLetThrough: return "Files stored unscanned because the scanner failed and [antivirus] fail_open is true."
            }
        }
    }

    private static let firstRequestSlot = 64
    private static let statuses = [200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 416, 422, 429, 460, 500, 502, 503, 0]
    private let counters: SharedCounters
    /// (method, route pattern) in the router's registration order, after
    /// "unmatched" at 0. Every worker registers the same routes in the same
    /// order, so the slots agree across processes.
    private var routes: [(method: String, pattern: String)] = [("-", "unmatched")]

    init(counters: SharedCounters) { self.counters = counters }

    func registerRoute(method: String, pattern: String) {
        routes.append((method, pattern))
    }

    func add(_ slot: Slot, _ value: Int64 = 1) { counters.add(slot.rawValue, value) }

    /// `routeIndex`: the router's index of the matched route (nil: unmatched).
    func record(routeIndex: Int?, status: Int) {
        let r = routeIndex.map { $0 + 1 } ?? 0
        let s = Metrics.statuses.firstIndex(of: status) ?? (Metrics.statuses.count - 1)
        counters.add(Metrics.firstRequestSlot + r * Metrics.statuses.count + s)
    }

    func render(reservationCount: Int, openResumableUploads: Int, expiredResumableUploads: Int, expiredFiles: Int64 = 0,
                events: EventCounts? = nil) -> String {
        var out = "# HELP depot_requests_total Requests answered by the workers, by route and status.\n# TYPE depot_requests_total counter\n"
        for (r, route) in routes.enumerated() {
            for (s, status) in Metrics.statuses.enumerated() {
                let n = counters.load(Metrics.firstRequestSlot + r * Metrics.statuses.count + s)
                guard n > 0 else { continue }
                out += "depot_requests_total{method=\"\(route.method)\",route=\"\(route.pattern)\",status=\"\(status == 0 ? "other" : String(status))\"} \(n)\n"
            }
        }
        for slot in Slot.allCases {
            out += "# HELP \(slot.name) \(slot.help)\n# TYPE \(slot.name) counter\n\(slot.name) \(counters.load(slot.rawValue))\n"
        }
        out += "# HELP depot_reservations Quota reservations currently held (uploads in flight).\n# TYPE depot_reservations gauge\n"
        out += "depot_reservations \(reservationCount)\n"
        out += "# HELP depot_resumable_uploads_open Resumable uploads not yet complete nor expired.\n# TYPE depot_resumable_uploads_open gauge\n"
        out += "depot_resumable_uploads_open \(openResumableUploads)\n"
        out += "# HELP depot_resumable_uploads_expired Unfinished resumable uploads past their expiry, waiting for the clean-up pass.\n"
        out += "# TYPE depot_resumable_uploads_expired gauge\ndepot_resumable_uploads_expired \(expiredResumableUploads)\n"
        // The clean-up runs in depotctl, outside the workers' shared counters:
        // what it has left to do is read from the database instead.
        out += "# HELP depot_files_expired Files past their expires_at, waiting for the clean-up pass (depotctl gc).\n"
        out += "# TYPE depot_files_expired gauge\ndepot_files_expired \(expiredFiles)\n"
        // The deliverer is no worker either: its outcomes are the outbox's rows
        // (kept `[events] keep_days`, so these fall when gc forgets old events).
        let e = events ?? EventCounts(delivered: -1, retried: -1, dead: -1, pending: -1)
        for (name, value, help) in [
            ("depot_events_delivered", e.delivered, "Event deliveries an endpoint accepted (2xx), among the events kept."),
            ("depot_events_retried", e.retried, "Failed event delivery attempts (each was retried, or ended dead)."),
            ("depot_events_dead", e.dead, "Event deliveries given up after [events] max_age_seconds of failures."),
            ("depot_events_pending", e.pending, "Event deliveries waiting to be sent or retried."),
        ] {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
        }
        return out
    }
}
