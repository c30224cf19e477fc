import CCrypto

/// A SHA-256 whose state can be saved and restored: a resumable upload's
/// bytes arrive over many requests, possibly on different workers, and its
/// checksum must cover them all without reading the object back. OpenSSL's
/// `SHA256_CTX` is plain data (the chaining values, the bit count and the
/// partial block), so its bytes are the state; they are only ever read back
/// by this same build on the same architecture (x86-64 little-endian).
public struct ResumableSHA256 {
    private var context = SHA256_CTX()

    public init() {
        SHA256_Init(&context)
    }

    /// Restores a state from `state`; nil when it is not one.
    public init?(state: [UInt8]) {
        guard state.count == MemoryLayout<SHA256_CTX>.size else { return nil }
        withUnsafeMutableBytes(of: &context) { $0.copyBytes(from: state) }
    }

    public var state: [UInt8] {
        withUnsafeBytes(of: context) { Array($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        SHA256_Update(&context, base, bytes.count)
    }

    /// The digest of everything so far; the state stays usable.
    public func digest() -> [UInt8] {
        var copy = context
        var out = [UInt8](repeating: 0, count: 32)
        SHA256_Final(&out, &copy)
        return out
    }
}
