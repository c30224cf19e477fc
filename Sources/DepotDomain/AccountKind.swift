/// The kind of account an organization is: the `acct` claim of a token,
/// used only the first time the organization is seen (default: organization).
public enum AccountKind: String, Sendable, Equatable {
    case individual
    case organization
}
