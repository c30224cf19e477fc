/// A JSON value as read from a token header or payload.
enum StrictJSON: Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([StrictJSON])
    case object([String: StrictJSON])
}
