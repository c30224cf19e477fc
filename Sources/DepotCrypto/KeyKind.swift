/// The key types Depot signs and verifies with.
public enum KeyKind: String, Sendable {
    /// ECDSA on NIST P-256 (prime256v1), used by ES256.
    case ec256
    /// RSA of at least `minimumRSABits` bits, used by RS256.
    case rsa
}

/// RSA keys shorter than this are refused when loaded.
public let minimumRSABits = 2048
