import CCrypto

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
where A.Element == UInt8, B.Element == UInt8 {
    let x = Array(a), y = Array(b)
    guard x.count == y.count else { return false }
    if x.isEmpty { return true }
    /* constant time comparison */
    return CRYPTO_memcmp(x, y, x.count) == 0
}
