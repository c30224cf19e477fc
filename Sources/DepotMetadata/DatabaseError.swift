/// How a metadata backend fails, in terms the API can answer with: `busy`
/// and `unavailable` are retryable (503), the rest are internal errors.
public enum DatabaseError: Error, CustomStringConvertible {
    /// Another writer held the lock past the busy timeout; retryable.
    case busy
    /// Disk full, I/O error, read-only file, connection lost: no writes now.
    case unavailable(String)
    case failed(String)
    case schemaTooNew(found: Int, supported: Int)

    public var description: String {
        switch self {
        case .busy: return "database busy"
        case .unavailable(let m): return "database unavailable: \(m)"
        case .failed(let m): return "database error: \(m)"
        case .schemaTooNew(let f, let s): return "database schema version \(f) is newer than this binary supports (\(s))"
        }
    }
}
