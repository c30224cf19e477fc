import Foundation

/// Lines on stderr; under systemd they land in the journal. Values are
/// quoted when needed so a hostile path cannot forge a second line.
public enum Log {
    public static func line(_ level: String, _ message: String, _ fields: [(String, String)] = []) {
        var out = "level=\(level) msg=\(quote(message))"
        for (k, v) in fields { out += " \(k)=\(quote(v))" }
        out += "\n"
        // One write(2) per line: lines from several workers never interleave.
        var bytes = Array(out.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }

    public static func info(_ message: String, _ fields: [(String, String)] = []) { line("info", message, fields) }
    public static func warning(_ message: String, _ fields: [(String, String)] = []) { line("warning", message, fields) }
    public static func error(_ message: String, _ fields: [(String, String)] = []) { line("error", message, fields) }

    static func quote(_ v: String) -> String {
        let needs = v.isEmpty || v.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 0x20 || $0.value == 0x7f }
        guard needs else { return v }
        var out = "\""
        for s in v.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if s.value < 0x20 || s.value == 0x7f {
                    out += "\\x" + (s.value < 0x10 ? "0" : "") + String(s.value, radix: 16)
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }
}
