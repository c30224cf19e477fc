import Foundation

/// A request body.
public enum StoreBody {
    case bytes([UInt8])
    /// Bytes and their SHA-256 (lowercase hex), which the caller already
    /// computed as they arrived: signed as the payload hash without a second
    /// pass over them (AWS and MinIO refuse bytes that do not match it).
    case digestedBytes([UInt8], sha256: String)
    /// `length` bytes of an open file starting at `offset`, read with `pread` in
    /// chunks while sending; never loaded whole. The descriptor stays owned by the caller.
    case file(descriptor: Int32, offset: Int64, length: Int64)
    /// `length` bytes pulled from `source` while sending (signed as an
    /// unsigned payload: they cannot be hashed before they exist).
    case stream(StoreBodySource, length: Int64)

    public var length: Int64 {
        switch self {
        case .bytes(let bytes), .digestedBytes(let bytes, _): return Int64(bytes.count)
        case .file(_, _, let length): return length
        case .stream(_, let length): return length
        }
    }
}
