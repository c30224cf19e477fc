import DepotDomain
import Foundation
import Testing

@Suite struct DownloadHeadersTests {
    /// RFC 8187 attr-char: what may appear unencoded in `filename*`.
    static let attrChars = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~".utf8)

    /// Splits a header value at `;` outside quoted strings, honouring `\` escapes.
    func parameters(_ header: String) -> [String] {
        var parts: [String] = [], current = "", quoted = false, escaped = false
        for c in header {
            if escaped { current.append(c); escaped = false; continue }
            if quoted && c == "\\" { current.append(c); escaped = true; continue }
            if c == "\"" { quoted.toggle() }
            if c == ";" && !quoted { parts.append(current.trimmingCharacters(in: .whitespaces)); current = ""; continue }
            current.append(c)
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts
    }

    /// The decoded `filename*` value of a header Depot made.
    func extendedFilename(_ header: String) -> String? {
        guard let p = parameters(header).first(where: { $0.hasPrefix("filename*=UTF-8''") }) else { return nil }
        let value = Array(p.dropFirst("filename*=UTF-8''".count).utf8)
        var out: [UInt8] = [], i = 0
        while i < value.count {
            if value[i] == UInt8(ascii: "%") {
                guard i + 2 < value.count, let b = UInt8(String(decoding: value[i + 1...i + 2], as: UTF8.self), radix: 16) else { return nil }
                out.append(b); i += 3
            } else {
                out.append(value[i]); i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// True when the header could be written as one line: printable ASCII only.
    func isOneSafeLine(_ header: String) -> Bool {
        header.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
    }

    @Test func plainNameAppearsInBothParameters() {
        // "report.pdf" as attachment: the same name in filename= and filename*=.
        #expect(DownloadHeaders.contentDisposition(.attachment, filename: "report.pdf")
            == "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf")
    }

    @Test func inlineDispositionIsNamedFirst() {
        // An inline download starts with "inline".
        #expect(DownloadHeaders.contentDisposition(.inline, filename: "a.png") == "inline; filename=\"a.png\"; filename*=UTF-8''a.png")
    }

    @Test func quotesCannotCloseTheQuotedString() {
        // A double quote becomes "_" in filename= and %22 in filename*=.
        let h = DownloadHeaders.contentDisposition(.attachment, filename: "a\"; filename=\"evil.exe")
        #expect(h == "attachment; filename=\"a_; filename=_evil.exe\"; filename*=UTF-8''a%22%3B%20filename%3D%22evil.exe")
        #expect(parameters(h).count == 3)
        #expect(extendedFilename(h) == "a\"; filename=\"evil.exe")
    }

    @Test func backslashCannotEscapeTheClosingQuote() {
        // A trailing backslash becomes "_", so the closing quote stays a quote.
        let h = DownloadHeaders.contentDisposition(.attachment, filename: "dir\\name\\")
        #expect(h == "attachment; filename=\"dir_name_\"; filename*=UTF-8''dir%5Cname%5C")
        #expect(parameters(h).count == 3)
    }

    @Test func crlfCannotStartAnotherHeader() {
        // CR and LF never reach the header: a Set-Cookie smuggled in a name stays inside one line.
        let h = DownloadHeaders.contentDisposition(.attachment, filename: "a\r\nSet-Cookie: x=1\r\n\r\n.txt")
        #expect(isOneSafeLine(h))
        #expect(h == "attachment; filename=\"a__Set-Cookie: x=1____.txt\"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%3D1%0D%0A%0D%0A.txt")
    }

    @Test func semicolonStaysInsideTheQuotedName() {
        // "a;b.txt" is one filename parameter, not two parameters.
        let h = DownloadHeaders.contentDisposition(.attachment, filename: "a;b.txt")
        #expect(h == "attachment; filename=\"a;b.txt\"; filename*=UTF-8''a%3Bb.txt")
        #expect(parameters(h) == ["attachment", "filename=\"a;b.txt\"", "filename*=UTF-8''a%3Bb.txt"])
    }

    @Test func nonASCIINameIsExactInFilenameStar() {
        // "résumé – 日本.pdf": "_" per character in filename=, exact UTF-8 in filename*=.
        let name = "r\u{E9}sum\u{E9} \u{2013} \u{65E5}\u{672C}.pdf"
        let h = DownloadHeaders.contentDisposition(.attachment, filename: name)
        #expect(h == "attachment; filename=\"r_sum_ _ __.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%80%93%20%E6%97%A5%E6%9C%AC.pdf")
        #expect(extendedFilename(h) == name)
    }

    @Test func rightToLeftOverrideNeverAppearsRaw() {
        // U+202E (used to disguise "exe" as "pdf") is "_" in filename= and percent-encoded in filename*=.
        let h = DownloadHeaders.contentDisposition(.attachment, filename: "invoice\u{202E}fdp.exe")
        #expect(h == "attachment; filename=\"invoice_fdp.exe\"; filename*=UTF-8''invoice%E2%80%AEfdp.exe")
        #expect(isOneSafeLine(h))
    }

    @Test func emptyNameStillGivesOneValidLine() {
        // An empty name yields a fallback filename= and a single line without CR or LF.
        let h = DownloadHeaders.contentDisposition(.attachment, filename: "")
        #expect(isOneSafeLine(h))
        #expect(h.hasPrefix("attachment; filename=\"download\"; filename*=UTF-8''"))
        #expect(parameters(h).count == 3)
    }

    @Test func filenameStarEncodesExactlyWhatIsNotAttrChar() {
        // Every ASCII character outside RFC 8187 attr-char is %XX (uppercase hex); attr-chars are left alone.
        for value in UInt8(0)...UInt8(0x7f) {
            let name = "a" + String(UnicodeScalar(value)) + "b"
            let h = DownloadHeaders.contentDisposition(.attachment, filename: name)
            let star = parameters(h).last ?? ""
            let expected = Self.attrChars.contains(value) ? "a\(UnicodeScalar(value))b" : "a%" + String(format: "%02X", value) + "b"
            #expect(star == "filename*=UTF-8''" + expected, "byte \(value)")
            #expect(isOneSafeLine(h), "byte \(value)")
        }
    }

    @Test func filenameStarRoundTripsEveryName() {
        // Decoding filename*= gives back the original name exactly, and the header is always one safe line.
        let names = ["report.pdf", "a b", "100%.txt", "x'y*z.txt", "\u{0}\u{1}\u{7F}", "tab\there", "\u{1F600}.png",
                     String(repeating: "\u{E9}\"\\;\r\n", count: 50), "e\u{301}", "\u{FEFF}bom", "\u{2028}line"]
        for name in names {
            let h = DownloadHeaders.contentDisposition(.attachment, filename: name)
            #expect(isOneSafeLine(h), "\(name.debugDescription)")
            #expect(parameters(h).count == 3, "\(name.debugDescription)")
            #expect(extendedFilename(h) == name, "\(name.debugDescription)")
        }
    }

    // MARK: isInlineSafe

    @Test func typesThatCannotRunScriptMayBeInline() {
        // Raster images, PDF, plain text (with parameters), audio and video may be shown inline.
        for t in ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/plain; charset=utf-8",
                  "TEXT/PLAIN", "video/mp4", "audio/mpeg"] {
            #expect(DownloadHeaders.isInlineSafe(contentType: t), "\(t)")
        }
    }

    @Test func scriptableTypesAreNeverInline() {
        // SVG, HTML, XHTML, XML, JavaScript and unknown types fall back to attachment.
        for t in ["image/svg+xml", "IMAGE/SVG+XML", "image/svg+xml; charset=utf-8", " image/svg+xml", "text/html", "text/html; charset=utf-8",
                  "application/xhtml+xml", "text/xml", "application/xml", "application/javascript", "text/javascript",
                  "application/octet-stream", "text/plain-evil", "text/css", "multipart/x-mixed-replace", "", "application/json"] {
            #expect(!DownloadHeaders.isInlineSafe(contentType: t), "\(t)")
        }
    }
}
