import Foundation

/// This process's identity for reservations: pid plus its start time, so a
/// reused pid is never mistaken for the worker that took a reservation, and
/// the host, so a node sharing the database never judges another node's
/// workers by its own process table.
public enum ProcessIdentity {
    static let hostName = ProcessInfo.processInfo.hostName

    public static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Field 22 overall is starttime; fields after ")" start at field 3.
        return fields.count > 19 ? String(fields[19]) : nil
    }

    public static var current: (pid: Int32, start: String) {
        let pid = getpid()
        return (pid, "\(startTime(of: pid) ?? "0")@\(hostName)")
    }

    /// The owner pid of a reservation held as a lease (a resumable upload's):
    /// no process holds it, it lives until it expires.
    public static let leasePID: Int32 = 0

    /// Whether the owner still runs. Another host's worker cannot be seen
    /// from here: it counts as alive, and its reservation ends when it
    /// expires (`[uploads] reservation_ttl_seconds`). A start time without a
    /// host is this host's (written before nodes shared a database).
    public static func isAlive(pid: Int32, start: String) -> Bool {
        if pid == leasePID { return true }
        guard pid > 0 else { return false }
        var processStart = Substring(start)
        if let at = start.firstIndex(of: "@") {
            guard start[start.index(after: at)...] == hostName else { return true }
            processStart = start[..<at]
        }
        return startTime(of: pid).map { $0 == processStart } ?? false
    }
}
