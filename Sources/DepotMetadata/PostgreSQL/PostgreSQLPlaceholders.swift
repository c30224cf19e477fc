/// The shared statements' `?` and `?N` placeholders as PostgreSQL's `$N`.
enum PostgreSQLPlaceholders {
    /// `?` takes the next number, `?N` keeps N; quoted text and identifiers
    /// are copied as they are.
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var next = 0
        var quote: Character?
        var chars = sql.makeIterator()
        var pending: Character? = chars.next()
        while let c = pending {
            pending = chars.next()
            if let q = quote {
                out.append(c)
                if c == q { quote = nil }
                continue
            }
            switch c {
            case "'", "\"":
                quote = c
                out.append(c)
            case "?":
                var digits = ""
                while let d = pending, d.isASCII, d.isNumber {
                    digits.append(d)
                    pending = chars.next()
                }
                if digits.isEmpty {
                    next += 1
                    digits = String(next)
                }
                out.append("$" + digits)
            default:
                out.append(c)
            }
        }
        return out
    }
}
