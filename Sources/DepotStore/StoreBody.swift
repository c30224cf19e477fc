import Foundation

/// A request body.
public enum StoreBody {
    case bytes([UInt8])
    /// `length` bytes of an open file starting at `offset`, read with `pread` in
    /// chunks while sending; never loaded whole. The descriptor stays owned by the caller.
    case file(descriptor: Int32, offset: Int64, length: Int64)
    /// `length` bytes pulled from `source` while sending (signed as an
    /// unsigned payload: they cannot be hashed before they exist).
    case stream(StoreBodySource, length: Int64)

    public var length: Int64 {
        switch self {
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, _, let length): return length
        case .stream(_, let length): return length
        }
    }
}
