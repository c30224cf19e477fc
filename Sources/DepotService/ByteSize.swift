import Foundation

/// `5368709120`, `5GiB`, `100MiB`, `64KiB` → bytes.
public enum ByteSize {
    public static func parse(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            // An overflowing size is not a number, not a crash.
            guard let n = Int64(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)) else { return nil }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        return Int64(text)
    }
}
