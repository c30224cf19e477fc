/// A caller's role inside their organization (`role` claim).
public enum Role: String, Sendable, Equatable {
    case member
    case admin
}
