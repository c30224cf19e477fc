import DepotEncoding
import Foundation

/// Query string parameters, decoded (`+` as space, `%XX`). Repeated names keep
/// the first value, which is what every route here wants.
public struct QueryParameters {
    public private(set) var pairs: [(String, String)] = []

    public init(_ raw: String) {
        guard !raw.isEmpty else { return }
        for piece in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentEncoding.decode(parts[0], plusIsSpace: true) ?? ""
            let value = parts.count > 1 ? (PercentEncoding.decode(parts[1], plusIsSpace: true) ?? "\u{FFFD}") : ""
            pairs.append((name, value))
        }
    }

    public subscript(name: String) -> String? { pairs.first { $0.0 == name }?.1 }
}
