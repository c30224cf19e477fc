/// Why a PEM key could not be loaded or generated.
public struct KeyError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
