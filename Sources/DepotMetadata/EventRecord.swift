/// An event of the outbox and where each endpoint stands with it (`depotctl events list`).
public struct EventRecord: Equatable {
    public struct Delivery: Equatable {
        public var endpoint: String
        /// `pending`, `delivered` or `dead`.
        public var status: String
        public var attempts: Int64
        public var failures: Int64
        public var nextAttemptAt: Int64
        public var lastError: String?
        public var deliveredAt: Int64?
    }

    public var id: String
    public var type: String
    public var organizationID: String
    public var createdAt: Int64
    public var payload: String
    public var deliveries: [Delivery]
}
