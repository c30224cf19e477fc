/// Where the metadata lives, as the configuration names it.
public enum DatabaseLocation: Equatable, CustomStringConvertible {
    /// A SQLite file on this host (the embedded default).
    case sqlite(path: String)
    /// A PostgreSQL server every node shares: a libpq URL without a
    /// password, and the password read from its own file.
    case postgresql(url: String, password: String?)

    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgresql(let url, _): return url
        }
    }
}
