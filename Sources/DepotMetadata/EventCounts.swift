/// The deliveries of the outbox by outcome, for `/metrics`.
public struct EventCounts: Equatable {
    public var delivered: Int64
    /// Failed attempts that were (or will be) tried again or ended dead.
    public var retried: Int64
    public var dead: Int64
    public var pending: Int64

    public init(delivered: Int64, retried: Int64, dead: Int64, pending: Int64) {
        self.delivered = delivered
        self.retried = retried
        self.dead = dead
        self.pending = pending
    }
}
