import DepotHTTP

/// Query parameters read the one way the contract states: a missing one
/// takes its default, a present but unusable one is a 400 naming it.
extension HTTPRequest {
    func intParameter(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = query[name] else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw APIError.invalidParameter("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound).")
        }
        return n
    }

    func enumParameter<E: RawRepresentable>(_ name: String, default value: E) throws -> E where E.RawValue == String {
        guard let text = query[name] else { return value }
        guard let v = E(rawValue: text) else { throw APIError.invalidParameter("\(name) has an unsupported value.") }
        return v
    }
}
