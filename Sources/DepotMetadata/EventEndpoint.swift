import DepotDomain

/// A configured receiver as the outbox sees it: a name and the event types
/// it wants (nil: all). Recording an event adds one delivery per endpoint
/// that wants it, in the same transaction; the URL and secret stay with the
/// deliverer.
public struct EventEndpoint: Equatable, Sendable {
    public var name: String
    public var kinds: Set<DepotEvent.Kind>?

    public init(name: String, kinds: Set<DepotEvent.Kind>?) {
        self.name = name
        self.kinds = kinds
    }

    public func wants(_ kind: DepotEvent.Kind) -> Bool { kinds?.contains(kind) ?? true }
}
