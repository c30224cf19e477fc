/// A statement argument, bound natively by each backend.
enum SQLValue {
    case null, int(Int64), text(String), blob([UInt8])
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(nilLiteral: ()) { self = .null }
    public static func optional(_ s: String?) -> SQLValue { s.map { .text($0) } ?? .null }
}
