import Foundation

/// Per-process counters in Prometheus text format. Each worker reports its
/// own figures with a `worker` label; Prometheus sums them.
final class Metrics {
    private var requests: [String: Int64] = [:]
    var uploadBytes: Int64 = 0
    var downloadRequests: Int64 = 0
    var quotaRejections: Int64 = 0
    var storeErrors: Int64 = 0

    func record(route: String, method: String, status: Int) {
        requests["\(method) \(route) \(status)", default: 0] += 1
    }

    func render(reservationCount: Int) -> String {
        let worker = String(getpid())
        var out = "# HELP depot_requests_total Requests answered by this worker.\n# TYPE depot_requests_total counter\n"
        for (key, count) in requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: " ")
            out += "depot_requests_total{worker=\"\(worker)\",method=\"\(parts[0])\",route=\"\(parts[1])\",status=\"\(parts[2])\"} \(count)\n"
        }
        out += "# HELP depot_upload_bytes_total Bytes of files stored.\n# TYPE depot_upload_bytes_total counter\n"
        out += "depot_upload_bytes_total{worker=\"\(worker)\"} \(uploadBytes)\n"
        out += "# HELP depot_download_requests_total Downloads handed to nginx.\n# TYPE depot_download_requests_total counter\n"
        out += "depot_download_requests_total{worker=\"\(worker)\"} \(downloadRequests)\n"
        out += "# HELP depot_quota_rejections_total Uploads refused for quota, size or file count.\n# TYPE depot_quota_rejections_total counter\n"
        out += "depot_quota_rejections_total{worker=\"\(worker)\"} \(quotaRejections)\n"
        out += "# HELP depot_store_errors_total Object store failures.\n# TYPE depot_store_errors_total counter\n"
        out += "depot_store_errors_total{worker=\"\(worker)\"} \(storeErrors)\n"
        out += "# HELP depot_reservations Quota reservations currently held.\n# TYPE depot_reservations gauge\n"
        out += "depot_reservations \(reservationCount)\n"
        return out
    }
}
