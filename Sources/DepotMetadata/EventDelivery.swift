/// One event due at one endpoint, claimed by a deliverer.
public struct EventDelivery: Equatable {
    public var eventID: String
    public var endpoint: String
    public var organizationID: String
    public var type: String
    /// The JSON body, as recorded with the change.
    public var payload: String
    /// Since when it has been waiting (its event's time, or its replay's):
    /// the deliverer gives up on it that long after.
    public var pendingSince: Int64
    /// Attempts before this one.
    public var attempts: Int64

    public init(eventID: String, endpoint: String, organizationID: String, type: String, payload: String, pendingSince: Int64, attempts: Int64) {
        self.eventID = eventID
        self.endpoint = endpoint
        self.organizationID = organizationID
        self.type = type
        self.payload = payload
        self.pendingSince = pendingSince
        self.attempts = attempts
    }
}
