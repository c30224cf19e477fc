/// Deployment-wide figures for `depotctl stats`, read in one snapshot.
public struct AdminStats: Equatable {
    public var files: Int64
    public var bytes: Int64
    public var organizations: Int64
    public var users: Int64
    public var reservations: Int64
    public var reservedBytes: Int64
    /// `created_at` (unix seconds) of the oldest live reservation.
    public var oldestReservationCreatedAt: Int64?
    public var pendingDeletes: Int64
}
