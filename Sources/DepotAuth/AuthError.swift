/// A refused token. `reason` is for server logs only: clients just get a 401.
public struct AuthError: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "AuthError(\(reason))" }
}
