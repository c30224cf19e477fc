import CPostgreSQL
import CSQLite
import Foundation

/// A row being read: typed column access by index, valid only inside the
/// callback it is handed to. One concrete type for both backends, so the
/// shared statements map rows once.
struct Row {
    enum Source {
        case sqlite(OpaquePointer)
        /// A result and the row's index in it (libpq's text format).
        case postgresql(OpaquePointer, Int32)
    }

    let source: Source

    func int(_ i: Int32) -> Int64 {
        switch source {
        case .sqlite(let statement): return sqlite3_column_int64(statement, i)
        case .postgresql(let result, let row):
            // Text format; SUM() over BIGINT arrives as NUMERIC, still digits.
            guard let p = PQgetvalue(result, row, i) else { return 0 }
            return strtoll(p, nil, 10)
        }
    }

    func text(_ i: Int32) -> String {
        switch source {
        case .sqlite(let statement):
            // Text first, then its length (SQLite's documented order).
            guard let p = sqlite3_column_text(statement, i) else { return "" }
            return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(statement, i))), as: UTF8.self)
        case .postgresql(let result, let row):
            guard let p = PQgetvalue(result, row, i) else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(PQgetlength(result, row, i))), as: UTF8.self)
        }
    }

    func isNull(_ i: Int32) -> Bool {
        switch source {
        case .sqlite(let statement): return sqlite3_column_type(statement, i) == SQLITE_NULL
        case .postgresql(let result, let row): return PQgetisnull(result, row, i) == 1
        }
    }

    func optionalText(_ i: Int32) -> String? { isNull(i) ? nil : text(i) }
    func optionalInt(_ i: Int32) -> Int64? { isNull(i) ? nil : int(i) }

    func blob(_ i: Int32) -> [UInt8] {
        switch source {
        case .sqlite(let statement):
            let count = Int(sqlite3_column_bytes(statement, i))
            guard count > 0, let p = sqlite3_column_blob(statement, i) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: count))
        case .postgresql(let result, let row):
            // bytea in text format is "\x" followed by hex digits.
            guard let p = PQgetvalue(result, row, i) else { return [] }
            let count = Int(PQgetlength(result, row, i))
            guard count >= 2, p[0] == 0x5C, p[1] == 0x78 else { return [] }
            var bytes: [UInt8] = []
            bytes.reserveCapacity((count - 2) / 2)
            var index = 2
            while index + 1 < count {
                bytes.append(Self.nibble(p[index]) << 4 | Self.nibble(p[index + 1]))
                index += 2
            }
            return bytes
        }
    }

    private static func nibble(_ c: CChar) -> UInt8 {
        let u = UInt8(bitPattern: c)
        switch u {
        case 0x30...0x39: return u - 0x30
        case 0x61...0x66: return u - 0x61 + 10
        case 0x41...0x46: return u - 0x41 + 10
        default: return 0
        }
    }
}
