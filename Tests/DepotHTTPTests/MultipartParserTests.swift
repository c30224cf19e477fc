import DepotHTTP
import DepotTestSupport
import Foundation
import Testing

// MARK: - Helpers

/// One part as the parser reported it, with its content reassembled.
private struct ParsedPart: Equatable {
    var name: String
    var filename: String?
    var contentType: String?
    var data: [UInt8]
    var dataOffset: Int64
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Builds a body: preamble, each part (header lines, blank line, data), close, epilogue.
private func makeBody(
    boundary: String, parts: [(headers: [String], data: [UInt8])],
    preamble: String = "", epilogue: String = "\r\n"
) -> [UInt8] {
    var out = bytes(preamble)
    for (i, part) in parts.enumerated() {
        if i > 0 || !preamble.isEmpty { out += bytes("\r\n") }
        out += bytes("--\(boundary)\r\n")
        for h in part.headers { out += bytes(h + "\r\n") }
        out += bytes("\r\n")
        out += part.data
    }
    out += bytes("\r\n--\(boundary)--")
    out += bytes(epilogue)
    return out
}

private func field(_ name: String, _ value: String) -> (headers: [String], data: [UInt8]) {
    (["Content-Disposition: form-data; name=\"\(name)\""], bytes(value))
}

/// Feeds `body` cut at `cuts` (each chunk copied into its own buffer), checks
/// event order and that every reported offset holds exactly the reported bytes
/// in `body`, and returns the parts.
private func parse(
    _ body: [UInt8], boundary: String, limits: MultipartLimits = .init(), cuts: [Int] = []
) throws -> [ParsedPart] {
    var parser = MultipartParser(boundary: boundary, limits: limits)
    var parts: [ParsedPart] = []
    var open = false
    var start = 0
    for end in cuts.filter({ $0 > 0 && $0 < body.count }) + [body.count] where end >= start {
        let chunk = Array(body[start..<end])
        try chunk.withUnsafeBytes { raw in
            try parser.feed(raw) { event in
                switch event {
                case .partBegin(let h):
                    #expect(!open)
                    open = true
                    parts.append(ParsedPart(
                        name: h.name, filename: h.filename, contentType: h.contentType,
                        data: [], dataOffset: h.dataOffset))
                case .partData(let buffer, let offset):
                    #expect(open)
                    #expect(buffer.count > 0)
                    guard let last = parts.indices.last else { return }
                    #expect(offset == parts[last].dataOffset + Int64(parts[last].data.count))
                    let o = Int(offset)
                    #expect(o >= 0 && o + buffer.count <= body.count)
                    if o >= 0, o + buffer.count <= body.count {
                        #expect(Array(body[o..<(o + buffer.count)]) == Array(buffer))
                    }
                    parts[last].data += buffer
                case .partEnd:
                    #expect(open)
                    open = false
                }
            }
        }
        start = end
    }
    try parser.finish()
    #expect(!open)
    return parts
}

private func outcome(
    _ body: [UInt8], boundary: String, limits: MultipartLimits = .init(), cuts: [Int] = []
) -> Result<[ParsedPart], MultipartError> {
    do {
        return .success(try parse(body, boundary: boundary, limits: limits, cuts: cuts))
    } catch let error as MultipartError {
        return .failure(error)
    } catch {
        return .failure(.malformed("unexpected error \(error)"))
    }
}

private func randomCuts(_ count: Int, maxChunk: Int, using rng: inout SplitMix64) -> [Int] {
    var cuts: [Int] = []
    var at = 0
    while at < count {
        at += Int.random(in: 1...maxChunk, using: &rng)
        cuts.append(at)
    }
    return cuts
}

/// Headers of the one part in `--b` body built from a Content-Disposition value.
private func headersOf(_ disposition: [UInt8]) throws -> ParsedPart? {
    let body = bytes("--b\r\nContent-Disposition: ") + disposition + bytes("\r\n\r\nx\r\n--b--")
    return try parse(body, boundary: "b").first
}

private func withTempFile<T>(_ content: [UInt8], _ body: (Int32) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("depot-mp-\(UUID().uuidString)").path
    #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_RDONLY)
    #expect(fd >= 0)
    defer { close(fd) }
    return try body(fd)
}

private let curlBoundary = "------------------------d74496d66958873e"

@Suite struct MultipartParserTests {
    // MARK: - Basic forms

    @Test func simpleFormWithTwoFieldsAndAFile() throws {
        // two fields and a file part come out in order with their content
        let body = makeBody(boundary: "XyZ", parts: [
            field("category", "general"),
            field("run_id", "r-42"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"", "Content-Type: text/plain"],
             bytes("hello\nworld")),
        ])
        let parts = try parse(body, boundary: "XyZ")
        try #require(parts.count == 3)
        #expect(parts.map(\.name) == ["category", "run_id", "file"])
        #expect(parts.map(\.data) == [bytes("general"), bytes("r-42"), bytes("hello\nworld")])
        #expect(parts.map(\.filename) == [nil, nil, "notes.txt"])
        #expect(parts[2].contentType == "text/plain")
    }

    @Test func curlStyleBody() throws {
        // the exact layout curl -F sends, boundary taken from its Content-Type
        let contentType = "multipart/form-data; boundary=\(curlBoundary)"
        let boundary = try multipartBoundary(fromContentType: contentType)
        #expect(boundary == curlBoundary)
        let body = bytes(
            "--\(curlBoundary)\r\n"
                + "Content-Disposition: form-data; name=\"category\"\r\n\r\n"
                + "general\r\n"
                + "--\(curlBoundary)\r\n"
                + "Content-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\n"
                + "Content-Type: application/pdf\r\n\r\n"
                + "%PDF-1.4\n%\u{e2}\u{e3}\n1 0 obj\r\n"
                + "--\(curlBoundary)--\r\n")
        let parts = try parse(body, boundary: boundary)
        try #require(parts.count == 2)
        #expect(parts[0].data == bytes("general"))
        #expect(parts[1].filename == "report.pdf")
        #expect(parts[1].contentType == "application/pdf")
        #expect(parts[1].data == bytes("%PDF-1.4\n%\u{e2}\u{e3}\n1 0 obj"))
    }

    @Test func browserStyleBody() throws {
        // Chrome's layout: WebKit boundary, %22 for quotes in the file name (decoded), binary content
        let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
        #expect(try multipartBoundary(fromContentType: "multipart/form-data; boundary=\(boundary)") == boundary)
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D]
        var body = bytes(
            "--\(boundary)\r\n"
                + "Content-Disposition: form-data; name=\"workflow_id\"\r\n\r\n"
                + "wf-1\r\n"
                + "--\(boundary)\r\n"
                + "Content-Disposition: form-data; name=\"file\"; filename=\"my %22best%22 pic.png\"\r\n"
                + "Content-Type: image/png\r\n\r\n")
        body += png
        body += bytes("\r\n--\(boundary)--\r\n")
        let parts = try parse(body, boundary: boundary)
        try #require(parts.count == 2)
        #expect(parts.map(\.name) == ["workflow_id", "file"])
        #expect(parts[1].filename == "my \"best\" pic.png")
        #expect(parts[1].data == png)
    }

    @Test func firefoxStyleBody() throws {
        // Firefox's long dash boundary and an empty file input (filename="" and no content)
        let boundary = "---------------------------9051914041544843365972754266"
        let body = makeBody(boundary: boundary, parts: [
            field("direction", "input"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"\"", "Content-Type: application/octet-stream"], []),
        ])
        let parts = try parse(body, boundary: boundary)
        try #require(parts.count == 2)
        #expect(parts[0].data == bytes("input"))
        #expect(parts[1].filename == "")
        #expect(parts[1].data.isEmpty)
    }

    // MARK: - Chunking

    private let chunkingBody = makeBody(boundary: "bnd", parts: [
        field("a", "1"),
        (["Content-Disposition: form-data; name=\"file\"; filename=\"f.bin\""],
         bytes("x\r\n--bn\r\r\n--b\r\n-\r\n--bn-\r\n\r\n--b--bnd\r\n-")),
        field("empty", ""),
    ], preamble: "pre\r\n--bn amble", epilogue: "\r\n--bnd\r\nepilogue")

    @Test func boundarySplitAtEveryPosition() throws {
        // two chunks cut at every position give the same parts as one chunk
        let expected = try parse(chunkingBody, boundary: "bnd")
        #expect(expected.count == 3)
        for cut in 0...chunkingBody.count {
            #expect(try parse(chunkingBody, boundary: "bnd", cuts: [cut]) == expected, "cut at \(cut)")
        }
    }

    @Test func everyPairOfSplitPoints() throws {
        // three chunks cut at every pair of positions give the same parts
        let body = makeBody(boundary: "q", parts: [field("a", "\r\n-"), field("b", "-\r\n--")])
        let expected = try parse(body, boundary: "q")
        for a in 0...body.count {
            for b in a...body.count {
                #expect(try parse(body, boundary: "q", cuts: [a, b]) == expected)
            }
        }
    }

    @Test func oneByteFeeding() throws {
        // feeding one byte at a time gives the same parts as one chunk
        let expected = try parse(chunkingBody, boundary: "bnd")
        let parts = try parse(chunkingBody, boundary: "bnd", cuts: Array(1..<chunkingBody.count))
        #expect(parts == expected)
    }

    @Test func randomChunkingEquivalence() throws {
        // random chunk sizes over a body full of near-delimiters give identical results
        var rng = SplitMix64(state: 7)
        let boundary = "----rnd"
        var content: [UInt8] = []
        for _ in 0..<400 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: content += bytes("\r\n------rnx")
            case 1: content += bytes("\r\r\n--")
            default: content += (0..<Int.random(in: 1...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
        }
        let body = makeBody(boundary: boundary, parts: [
            field("x", "y"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"r.bin\""], content),
        ], preamble: "ignored\r\n")
        let expected = try parse(body, boundary: boundary)
        #expect(expected.last?.data == content)
        for round in 0..<50 {
            let cuts = randomCuts(body.count, maxChunk: round < 25 ? 7 : 600, using: &rng)
            #expect(try parse(body, boundary: boundary, cuts: cuts) == expected)
        }
    }

    // MARK: - Content that resembles delimiters

    @Test func crlfInsideFileData() throws {
        // CR LF pairs, lone CRs and blank lines in content are data
        let content = bytes("line1\r\nline2\r\n\r\n\rline3\n\r")
        let body = makeBody(boundary: "b0", parts: [
            (["Content-Disposition: form-data; name=\"file\"; filename=\"t.txt\""], content),
        ])
        #expect(try parse(body, boundary: "b0").first?.data == content)
    }

    @Test func boundaryTextWithoutCRLFIsData() throws {
        // "--boundary" not preceded by CR LF, even at the start of content, is data
        let content = bytes("--boundary\r\nabc--boundary--def--boundary")
        let body = makeBody(boundary: "boundary", parts: [
            (["Content-Disposition: form-data; name=\"file\"; filename=\"t.txt\""], content),
        ])
        #expect(try parse(body, boundary: "boundary").first?.data == content)
    }

    @Test func partialDelimiterIsData() throws {
        // "\r\n--bound" followed by other bytes is data, also when cut mid-way
        let content = bytes("a\r\n--boundx\r\n--boun\r\n-\r\n--boundar")
        let body = makeBody(boundary: "boundary", parts: [field("f", String(decoding: content, as: UTF8.self))])
        for cut in 0...body.count {
            #expect(try parse(body, boundary: "boundary", cuts: [cut]).first?.data == content)
        }
    }

    @Test func dataEndingRightBeforeDelimiter() throws {
        // content ending in a delimiter prefix keeps those bytes
        for tail in ["\r", "\r\n", "\r\n-", "\r\n--", "\r\n--b", "\r\n--bb", "-", "--", "--bbb"] {
            let content = bytes("data" + tail)
            let body = makeBody(boundary: "bbb", parts: [
                (["Content-Disposition: form-data; name=\"file\"; filename=\"t\""], content),
            ])
            for cut in 0...body.count {
                #expect(try parse(body, boundary: "bbb", cuts: [cut]).first?.data == content, "tail \(tail.debugDescription)")
            }
        }
    }

    @Test func preambleAndEpilogueIgnored() throws {
        // text before the first and after the closing delimiter is ignored, even delimiter-like text
        let body = bytes("This is a preamble.\r\n--xy is not it, nor is --xx\r\n--xx\r\n"
            + "Content-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--xx--\r\n"
            + "epilogue\r\n--xx\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nnot a part\r\n--xx--")
        let parts = try parse(body, boundary: "xx")
        try #require(parts.count == 1)
        #expect(parts.map(\.name) == ["a"])
        #expect(parts[0].data == bytes("value"))
    }

    @Test func closingDelimiterWithoutCRLF() throws {
        // a body ending right after "--boundary--" is complete
        let body = bytes("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--")
        #expect(try parse(body, boundary: "b").first?.data == bytes("v"))
    }

    @Test func transportPaddingAfterDelimiter() throws {
        // spaces and tabs between the boundary and CR LF are allowed
        let body = bytes("--b \t \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b\t\r\n"
            + "Content-Disposition: form-data; name=\"c\"\r\n\r\nw\r\n--b--")
        #expect(try parse(body, boundary: "b").map(\.data) == [bytes("v"), bytes("w")])
    }

    @Test func garbageAfterDelimiterIsMalformed() throws {
        // a boundary followed by other text, or a lone "-", is rejected
        for text in ["--bX\r\n", "--b-x", "--b \tx", "--b\rx"] {
            #expect(throws: MultipartError.self) {
                try parse(bytes(text + "Content-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--"), boundary: "b")
            }
        }
    }

    @Test func emptyPartAndNoParts() throws {
        // a part with no content gives no data events; a body with only the close gives no parts
        let head = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
        let body = bytes(head + "\r\n--b--")
        #expect(try parse(body, boundary: "b") == [ParsedPart(name: "a", data: [], dataOffset: Int64(head.utf8.count))])
        #expect(try parse(bytes("--b--\r\n"), boundary: "b").isEmpty)
    }

    // MARK: - Boundary in Content-Type

    @Test func quotedBoundaryInContentType() throws {
        // quoted boundary, other parameters, case-insensitive type and parameter name
        #expect(try multipartBoundary(fromContentType: "multipart/form-data; boundary=\"a b:c=d?\"") == "a b:c=d?")
        #expect(try multipartBoundary(fromContentType: "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"----=_Part_0\"") == "----=_Part_0")
        #expect(try multipartBoundary(fromContentType: "multipart/form-data;boundary=abc ;x=\"y;boundary=z\"") == "abc")
    }

    @Test func boundaryMissingOrInvalid() throws {
        // no boundary, bad characters, empty, too long, trailing space, wrong type
        #expect(throws: MultipartError.missingBoundary) { try multipartBoundary(fromContentType: "multipart/form-data") }
        #expect(throws: MultipartError.missingBoundary) { try multipartBoundary(fromContentType: "multipart/form-data; charset=utf-8") }
        #expect(throws: MultipartError.invalidBoundary) { try multipartBoundary(fromContentType: "multipart/form-data; boundary=\"\"") }
        #expect(throws: MultipartError.invalidBoundary) { try multipartBoundary(fromContentType: "multipart/form-data; boundary=a#b") }
        #expect(throws: MultipartError.invalidBoundary) { try multipartBoundary(fromContentType: "multipart/form-data; boundary=\"ab \"") }
        let seventy = String(repeating: "a", count: 70)
        #expect(try multipartBoundary(fromContentType: "multipart/form-data; boundary=\(seventy)") == seventy)
        #expect(throws: MultipartError.invalidBoundary) { try multipartBoundary(fromContentType: "multipart/form-data; boundary=\(seventy)a") }
        #expect(throws: MultipartError.self) { try multipartBoundary(fromContentType: "text/plain; boundary=abc") }
        #expect(throws: MultipartError.self) { try multipartBoundary(fromContentType: "multipart/form-data; boundary=\"abc") }
        #expect(throws: MultipartError.self) { try multipartBoundary(fromContentType: "multipart/form-data; boundary=a; boundary=b") }
    }

    @Test func parserRejectsInvalidBoundary() throws {
        // a parser built with an invalid boundary throws on first use
        #expect(throws: MultipartError.invalidBoundary) { try parse(bytes("--\r\n"), boundary: "") }
        #expect(throws: MultipartError.invalidBoundary) { try parse(bytes("x"), boundary: "a\r\nb") }
    }

    // MARK: - Part headers and file names

    @Test func filenameWithEscapedQuote() throws {
        // \" inside a quoted filename is a quote; \\ is a backslash
        #expect(try headersOf(bytes(#"form-data; name="file"; filename="say \"hi\".txt""#))?.filename == "say \"hi\".txt")
    }

    @Test func filenameWithSemicolon() throws {
        // a ; inside quotes does not end the parameter
        let part = try headersOf(bytes(#"form-data; filename="a; name=x.txt"; name="file""#))
        #expect(part?.filename == "a; name=x.txt")
        #expect(part?.name == "file")
    }

    @Test func filenameWithRawUTF8() throws {
        // raw UTF-8 bytes in a quoted filename, as browsers send them
        #expect(try headersOf(bytes("form-data; name=\"file\"; filename=\"résumé 日本 🎉.pdf\""))?.filename == "résumé 日本 🎉.pdf")
    }

    @Test func filenameInvalidUTF8IsMalformed() throws {
        // bytes that are not UTF-8 in the header block are rejected
        #expect(throws: MultipartError.self) {
            try headersOf(bytes("form-data; name=\"file\"; filename=\"a") + [0xFF, 0xFE] + bytes(".txt\""))
        }
        #expect(throws: MultipartError.self) {
            try headersOf(bytes("form-data; name=\"file\"; filename*=UTF-8''a%FF.txt"))
        }
    }

    @Test func extendedFilenamePreferred() throws {
        // filename* (RFC 8187) wins over filename in either order; ISO-8859-1 too
        #expect(try headersOf(bytes("form-data; name=\"file\"; filename=\"EUR rates.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt"))?.filename == "€ rates.txt")
        #expect(try headersOf(bytes("form-data; filename*=utf-8'en'%C3%A9t%C3%A9.txt; name=\"file\"; filename=\"ete.txt\""))?.filename == "été.txt")
        #expect(try headersOf(bytes("form-data; name=file; filename*=iso-8859-1''caf%E9.txt"))?.filename == "café.txt")
        #expect(throws: MultipartError.self) { try headersOf(bytes("form-data; name=file; filename*=UTF-8''bad%2")) }
        #expect(throws: MultipartError.self) { try headersOf(bytes("form-data; name=file; filename*=koi8-r''x")) }
        #expect(throws: MultipartError.self) { try headersOf(bytes("form-data; name=file; filename*=UTF-8''a%00b")) }
    }

    @Test func filenamePathIsStripped() throws {
        // full client paths keep only the part after the last / or \
        #expect(try headersOf(bytes(#"form-data; name="file"; filename="C:\Users\me\report.pdf""#))?.filename == "report.pdf")
        #expect(try headersOf(bytes(#"form-data; name="file"; filename="/home/me/x.txt""#))?.filename == "x.txt")
        #expect(try headersOf(bytes(#"form-data; name="file"; filename="..\\..\evil.txt""#))?.filename == "evil.txt")
        #expect(try headersOf(bytes("form-data; name=file; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd"))?.filename == "passwd")
        #expect(try headersOf(bytes(#"form-data; name="file"; filename="dir/""#))?.filename == "")
    }

    @Test func htmlFormEscapesDecodedOthersKept() throws {
        // plain filename: the HTML form escapes %22, %0D, %0A are decoded; any other %XX stays literal
        #expect(try headersOf(bytes(#"form-data; name="file"; filename="a%22b%2Fc.txt""#))?.filename == "a\"b%2Fc.txt")
        #expect(try headersOf(bytes(#"form-data; name="file"; filename="x%0d%0Ay%41.txt""#))?.filename == "x\r\ny%41.txt")
    }

    @Test func headerAndParameterNamesCaseInsensitive() throws {
        // header names and parameter names match in any case; unquoted tokens work
        let body = bytes("--b\r\ncontent-DISPOSITION: Form-Data; NAME=file; FileName=plain.txt\r\n"
            + "CONTENT-TYPE:text/csv ; charset=utf-8 \r\nX-Extra: 1\r\n\r\nv\r\n--b--")
        let part = try #require(try parse(body, boundary: "b").first)
        #expect(part.name == "file")
        #expect(part.filename == "plain.txt")
        #expect(part.contentType == "text/csv ; charset=utf-8")
    }

    @Test func rawHeadersKept() throws {
        // rawHeaders lists every header line in order with trimmed values
        var seen: [(String, String)] = []
        var parser = MultipartParser(boundary: "b")
        let body = bytes("--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-One:  1 \r\n\r\nv\r\n--b--")
        try body.withUnsafeBytes { raw in
            try parser.feed(raw) { event in
                if case .partBegin(let h) = event { seen = h.rawHeaders }
            }
        }
        try parser.finish()
        #expect(seen.map(\.0) == ["Content-Disposition", "X-One"])
        #expect(seen.map(\.1) == ["form-data; name=\"a\"", "1"])
    }

    @Test func badPartHeadersAreMalformed() throws {
        // missing Content-Disposition, missing or empty name, wrong disposition, folding, junk lines
        let cases = [
            "Content-Type: text/plain",
            "Content-Disposition: form-data; filename=\"x\"",
            "Content-Disposition: form-data; name=\"\"",
            "Content-Disposition: attachment; name=\"a\"",
            "Content-Disposition: form-data;\r\n name=\"a\"",
            "Content-Disposition: form-data; name=\"a\"\r\nno colon here",
            "Content-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"b\"",
            "Content-Disposition: form-data; name=\"a\"; name=\"b\"",
            "Content-Disposition: form-data; name=\"a",
            "Content-Disposition: form-data; name=\"a\"\rX: y",
            "Content-Disposition: form-data; name=\"a\"\nX: y",
            "Bad Name: x\r\nContent-Disposition: form-data; name=\"a\"",
        ]
        for headers in cases {
            let body = bytes("--b\r\n\(headers)\r\n\r\nv\r\n--b--")
            #expect(throws: MultipartError.self, "\(headers.debugDescription)") { try parse(body, boundary: "b") }
        }
        // a part with no headers at all
        #expect(throws: MultipartError.self) { try parse(bytes("--b\r\n\r\nv\r\n--b--"), boundary: "b") }
    }

    // MARK: - Truncation and limits

    @Test func missingClosingBoundaryIsTruncated() throws {
        // bodies that stop before the close delimiter
        let full = makeBody(boundary: "b", parts: [field("a", "value")], epilogue: "")
        for cut in 0..<full.count {
            #expect(throws: MultipartError.truncated, "length \(cut)") { try parse(Array(full[..<cut]), boundary: "b") }
        }
        #expect(throws: MultipartError.truncated) { try parse(bytes("just a preamble"), boundary: "b") }
    }

    @Test func fortyPartsIsTooMany() throws {
        // the 33rd part is refused with the default limit; 32 pass
        let forty = makeBody(boundary: "b", parts: (0..<40).map { field("f\($0)", "v") })
        #expect(throws: MultipartError.tooManyParts) { try parse(forty, boundary: "b") }
        let thirtyThree = makeBody(boundary: "b", parts: (0..<33).map { field("f\($0)", "v") })
        #expect(throws: MultipartError.tooManyParts) { try parse(thirtyThree, boundary: "b") }
        let thirtyTwo = makeBody(boundary: "b", parts: (0..<32).map { field("f\($0)", "v") })
        #expect(try parse(thirtyTwo, boundary: "b").count == 32)
    }

    @Test func hugeHeaderFailsEarly() throws {
        // a 1 MB header line is refused within the first 64 KiB chunk
        var body = bytes("--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Big: ")
        body += [UInt8](repeating: 0x61, count: 1 << 20)
        body += bytes("\r\n\r\nv\r\n--b--")
        var parser = MultipartParser(boundary: "b")
        var fed = 0
        var caught: Error?
        do {
            while fed < body.count {
                let end = min(fed + 65536, body.count)
                try Array(body[fed..<end]).withUnsafeBytes { try parser.feed($0) { _ in } }
                fed = end
            }
        } catch {
            caught = error
        }
        #expect(caught as? MultipartError == .headerTooLarge)
        #expect(fed == 0)
        // exactly maxHeaderBytes is still fine
        var limits = MultipartLimits()
        let block = "Content-Disposition: form-data; name=\"abc\"\r\n\r\n"
        let exact = bytes("--b\r\n" + block + "v\r\n--b--")
        limits.maxHeaderBytes = block.utf8.count
        #expect(try parse(exact, boundary: "b", limits: limits).count == 1)
        limits.maxHeaderBytes = block.utf8.count - 1
        #expect(throws: MultipartError.headerTooLarge) { try parse(exact, boundary: "b", limits: limits) }
    }

    @Test func fieldLimitAppliesOnlyToFields() throws {
        // a field over maxFieldBytes is refused; a file part of any size is not
        let limit = MultipartLimits().maxFieldBytes
        let atLimit = makeBody(boundary: "b", parts: [field("a", String(repeating: "x", count: limit))])
        #expect(try parse(atLimit, boundary: "b").first?.data.count == limit)
        let over = makeBody(boundary: "b", parts: [field("a", String(repeating: "x", count: limit + 1))])
        #expect(throws: MultipartError.fieldTooLarge) { try parse(over, boundary: "b") }
        #expect(throws: MultipartError.fieldTooLarge) { try parse(over, boundary: "b", cuts: Array(stride(from: 1, to: over.count, by: 997))) }
        let bigFile = makeBody(boundary: "b", parts: [
            (["Content-Disposition: form-data; name=\"file\"; filename=\"big\""], [UInt8](repeating: 7, count: 4 * limit)),
        ])
        #expect(try parse(bigFile, boundary: "b").first?.data.count == 4 * limit)
    }

    @Test func parserStaysFailedAfterError() throws {
        // after an error every later call throws the same error
        var parser = MultipartParser(boundary: "b")
        let bad = bytes("--bX")
        #expect(throws: MultipartError.self) { try bad.withUnsafeBytes { try parser.feed($0) { _ in } } }
        #expect(throws: MultipartError.self) { try bad.withUnsafeBytes { try parser.feed($0) { _ in } } }
        #expect(throws: MultipartError.self) { try parser.finish() }
    }

    // MARK: - Offsets

    @Test func offsetsPointAtFileContent() throws {
        // the reported offset range of the file part holds exactly its content
        let content = bytes("\u{0}binary\r\n--not-it\r\n\u{7f}")
        let body = makeBody(boundary: "off", parts: [
            field("category", "general"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"b.bin\"", "Content-Type: application/octet-stream"], content),
            field("after", "x"),
        ], preamble: "preamble text")
        let part = try #require(try parse(body, boundary: "off", cuts: [50, 51, 120]).first { $0.filename != nil })
        let start = Int(part.dataOffset)
        #expect(Array(body[start..<(start + content.count)]) == content)
        #expect(part.data == content)
    }

    // MARK: - scanMultipartForm

    @Test func scanThreeMebibyteFile() throws {
        // a 3 MiB random file in a real temp file: fields, offsets, hash feed and head all match
        var rng = SplitMix64(state: 42)
        let boundary = "------------------------5b9c3a1f0e2d4c6a"
        var content = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // plant near-delimiters across the 256 KiB read boundaries
        let near = bytes("\r\n--" + boundary.dropLast())
        for k in 1...11 { content.replaceSubrange((k * 262_144 - 10)..<(k * 262_144 - 10 + near.count), with: near) }
        let body = makeBody(boundary: boundary, parts: [
            field("category", "data_source"),
            field("workflow_name", "Nightly ✓"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"C:\\data\\dump.bin\"", "Content-Type: application/octet-stream"], content),
            field("direction", "input"),
        ], preamble: "preamble\r\n")
        var streamed: [UInt8] = []
        let form = try withTempFile(body) { fd in
            try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: boundary) { streamed += $0 }
        }
        #expect(form.fields == ["category": "data_source", "workflow_name": "Nightly ✓", "direction": "input"])
        let file = try #require(form.file)
        #expect(file.filename == "dump.bin")
        #expect(file.contentType == "application/octet-stream")
        #expect(file.length == Int64(content.count))
        #expect(file.head == Array(content.prefix(64)))
        #expect(streamed == content)
        let start = Int(file.offset)
        #expect(Array(body[start..<(start + Int(file.length))]) == content)
    }

    @Test func scanSecondFilePartIsMalformed() throws {
        // two parts named file with filenames are refused
        let body = makeBody(boundary: "b", parts: [
            (["Content-Disposition: form-data; name=\"file\"; filename=\"a\""], bytes("1")),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"b\""], bytes("2")),
        ])
        #expect(throws: MultipartError.self) {
            try withTempFile(body) { fd in try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: "b") { _ in } }
        }
    }

    @Test func scanIgnoresOtherFilePartsAndRejectsDuplicateFields() throws {
        // a file under another name is skipped (the form then has no file); a repeated or non-UTF-8 field is refused
        let other = makeBody(boundary: "b", parts: [(["Content-Disposition: form-data; name=\"avatar\"; filename=\"a\""], bytes("1"))])
        let form = try withTempFile(other) { fd in
            try scanMultipartForm(descriptor: fd, length: Int64(other.count), boundary: "b") { _ in }
        }
        #expect(form.file == nil && form.fields.isEmpty)
        let bodies = [
            makeBody(boundary: "b", parts: [field("category", "a"), field("category", "b")]),
            makeBody(boundary: "b", parts: [(["Content-Disposition: form-data; name=\"x\""], [0xC3, 0x28])]),
        ]
        for body in bodies {
            #expect(throws: MultipartError.self) {
                try withTempFile(body) { fd in try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: "b") { _ in } }
            }
        }
    }

    @Test func scanWithoutFileAndShortFile() throws {
        // a form without a file part has file nil; a file shorter than length is truncated
        let body = makeBody(boundary: "b", parts: [field("file", "not a file"), field("category", "general")])
        let form = try withTempFile(body) { fd in
            try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: "b") { _ in }
        }
        #expect(form.file == nil)
        #expect(form.fields == ["file": "not a file", "category": "general"])
        let cut = Array(body.prefix(30))
        #expect(throws: MultipartError.truncated) {
            try withTempFile(cut) { fd in try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: "b") { _ in } }
        }
    }

    @Test func scanEmptyFilePart() throws {
        // an empty file part still has an offset, zero length and an empty head
        let body = makeBody(boundary: "b", parts: [
            (["Content-Disposition: form-data; name=\"file\"; filename=\"empty.txt\""], []),
        ])
        let form = try withTempFile(body) { fd in
            try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: "b") { _ in }
        }
        let file = try #require(form.file)
        #expect(file.length == 0)
        #expect(file.head.isEmpty)
        #expect(file.offset == Int64(body.count - "\r\n--b--\r\n".utf8.count))
    }

    // MARK: - Robustness

    @Test func mutatedBodiesNeverCrashAndAgreeAcrossChunkings() throws {
        // random corruptions parse to the same result or error whole, byte by byte and in random chunks
        var rng = SplitMix64(state: 99)
        let base = makeBody(boundary: "zz", parts: [
            field("a", "1\r\n--z"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"q\\\"x;y.txt\"", "Content-Type: text/plain"], bytes("--zz\r\n\r-")),
        ], preamble: "p", epilogue: "\r\ne")
        let alphabet = bytes("\r\n-z\"; =\\\t:ab") + [0x00, 0xFF, 0xC3]
        for _ in 0..<400 {
            var body = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !body.isEmpty else { break }
                let at = Int.random(in: 0..<body.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: body[at] = alphabet.randomElement(using: &rng) ?? 0
                case 1: body.insert(alphabet.randomElement(using: &rng) ?? 0, at: at)
                case 2: body.removeSubrange(at..<min(body.count, at + Int.random(in: 1...6, using: &rng)))
                default: body.removeSubrange(at...)
                }
            }
            let whole = outcome(body, boundary: "zz")
            #expect(outcome(body, boundary: "zz", cuts: Array(1..<max(1, body.count))) == whole)
            #expect(outcome(body, boundary: "zz", cuts: randomCuts(body.count, maxChunk: 9, using: &rng)) == whole)
        }
    }

    @Test func generatedBodiesRoundTrip() throws {
        // random short boundaries and delimiter-heavy content come back exactly, in random chunks
        var rng = SplitMix64(state: 2026)
        let boundaryAlphabet = bytes("-ab ")
        let contentAlphabet = bytes("\r\n-ab ")
        for _ in 0..<300 {
            var boundaryBytes = (0..<Int.random(in: 1...4, using: &rng)).map { _ in boundaryAlphabet.randomElement(using: &rng) ?? 0x61 }
            if boundaryBytes.last == 0x20 { boundaryBytes[boundaryBytes.count - 1] = 0x62 }
            let boundary = String(decoding: boundaryBytes, as: UTF8.self)
            let delimiter = bytes("\r\n--" + boundary)
            var contents: [[UInt8]] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                var content: [UInt8]
                repeat {
                    content = (0..<Int.random(in: 0...40, using: &rng)).map { _ in contentAlphabet.randomElement(using: &rng) ?? 0x61 }
                } while content.count >= delimiter.count
                    && (0...(content.count - delimiter.count)).contains { Array(content[$0..<($0 + delimiter.count)]) == delimiter }
                contents.append(content)
            }
            let body = makeBody(boundary: boundary, parts: contents.enumerated().map { i, c in
                (["Content-Disposition: form-data; name=\"p\(i)\"; filename=\"f\""], c)
            })
            let cuts = randomCuts(body.count, maxChunk: 5, using: &rng)
            #expect(try parse(body, boundary: boundary, cuts: cuts).map(\.data) == contents, "boundary \(boundary.debugDescription)")
        }
    }

    @Test func manyNearDelimitersStayLinear() throws {
        // 4 MiB of repeated delimiter prefixes parse correctly in small chunks
        let boundary = "abcdefghijklmnopqrstuvwxyz0123456789"
        let unit = bytes("\r\n--abcdefghijklmnopqrstuvwxyz012345678")
        let content = Array([[UInt8]](repeating: unit, count: (4 << 20) / unit.count).joined())
        let body = makeBody(boundary: boundary, parts: [
            (["Content-Disposition: form-data; name=\"file\"; filename=\"n\""], content),
        ])
        var parser = MultipartParser(boundary: boundary)
        var total = 0
        var at = 0
        while at < body.count {
            let end = min(at + 4093, body.count)
            try Array(body[at..<end]).withUnsafeBytes { raw in
                try parser.feed(raw) { event in
                    if case .partData(let b, _) = event { total += b.count }
                }
            }
            at = end
        }
        try parser.finish()
        #expect(total == content.count)
    }
}
