import Foundation

/// This process's identity for reservations: pid plus its start time, so a
/// reused pid is never mistaken for the worker that took a reservation.
public enum ProcessIdentity {
    public static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Field 22 overall is starttime; fields after ")" start at field 3.
        return fields.count > 19 ? String(fields[19]) : nil
    }

    public static var current: (pid: Int32, start: String) {
        let pid = getpid()
        return (pid, startTime(of: pid) ?? "0")
    }

    /// The owner pid of a reservation held as a lease (a resumable upload's):
    /// no process holds it, it lives until it expires.
    public static let leasePID: Int32 = 0

    public static func isAlive(pid: Int32, start: String) -> Bool {
        if pid == leasePID { return true }
        guard pid > 0 else { return false }
        return startTime(of: pid) == start
    }
}
