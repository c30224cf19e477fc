/// Session or transaction locks every node of a deployment shares through
/// PostgreSQL; the numbers are fixed forever ("Depot" in ASCII, then one).
enum PostgreSQLAdvisoryLock: Int64 {
    /// Held by `migrate` for its transaction.
    case migration = 0x4465_706F_7401
    /// Held by the periodic clean-up while it runs: one node at a time.
    case maintenance = 0x4465_706F_7402
}
