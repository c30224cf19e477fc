import Foundation

/// Where handlers read the time: the system clock in the workers, a fixed
/// one in tests (signed-link expiry, reservation TTLs, key timestamps).
public struct WallClock {
    public let now: () -> Date

    public init(_ now: @escaping () -> Date) { self.now = now }

    public static let system = WallClock { Date() }

    /// Unix seconds, as the metadata stores them.
    public var seconds: Int64 { Int64(now().timeIntervalSince1970) }
}
