import DepotEncoding
import Foundation

/// UUID strings as ids: organization, user, workflow and run ids.
public enum UUIDs {
    /// Canonical 8-4-4-4-12 hex form, any case.
    public static func isValid<S: StringProtocol>(_ s: S) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if Hex.value(c) == nil {
                return false
            }
        }
        return true
    }

    /// The lowercase form of a UUID `isValid` accepts, else nil: the one
    /// spelling ids are stored and compared in.
    public static func canonical<S: StringProtocol>(_ s: S) -> String? {
        isValid(s) ? s.lowercased() : nil
    }

    /// A random (version 4) UUID, lowercased.
    public static func random() -> String { UUID().uuidString.lowercased() }
}
