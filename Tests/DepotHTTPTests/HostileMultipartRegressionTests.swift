import DepotHTTP
import Foundation
import Testing

// Regressions found by the reliability suite (issue 5): schemathesis against
// the served OpenAPI document, the hostile-input corpus and the libFuzzer
// targets under Tests/Fuzz. Each test names the input that failed.

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private struct Part: Equatable {
    var name: String
    var filename: String?
    var data: [UInt8]
}

private func parts(_ body: [UInt8], boundary: String) throws -> [Part] {
    var parser = MultipartParser(boundary: boundary)
    var out: [Part] = []
    try body.withUnsafeBytes { raw in
        try parser.feed(raw) { event in
            switch event {
            case .partBegin(let h): out.append(Part(name: h.name, filename: h.filename, data: []))
            case .partData(let buffer, _): out[out.count - 1].data += Array(buffer)
            case .partEnd: break
            }
        }
    }
    try parser.finish()
    return out
}

@Suite struct HostileMultipartRegressionTests {
    /// schemathesis, `POST /api/v1/storage/upload`: a form field named `\`.
    /// Browsers, curl and urllib3 (the HTML form encoding) never escape a
    /// backslash, so the name arrived as `name="\"` and was refused as an
    /// unterminated quoted-string (400 for a request the document allows).
    @Test func fieldNameEndingInBackslashAsBrowsersSendIt() throws {
        let body = bytes("--b\r\nContent-Disposition: form-data; name=\"\\\"\r\n\r\nv\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"dir\\\"; filename=\"a.txt\"\r\n\r\nx\r\n--b--\r\n")
        let found = try parts(body, boundary: "b")
        #expect(found == [Part(name: "\\", filename: nil, data: bytes("v")),
                          Part(name: "dir\\", filename: "a.txt", data: bytes("x"))])
    }

    /// A file name ending in a backslash (legal on Linux) from a browser:
    /// accepted; as with any client path, only what follows the last `\` is kept.
    @Test func filenameEndingInBackslash() throws {
        let body = bytes("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes\\\"\r\n\r\nx\r\n--b--")
        #expect(try parts(body, boundary: "b") == [Part(name: "file", filename: "", data: bytes("x"))])
    }

    /// RFC-style escapes still win whenever they parse.
    @Test func escapedQuotesStillUnescaped() throws {
        let body = bytes("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"say \\\"hi\\\".txt\"\r\n\r\nx\r\n--b--")
        #expect(try parts(body, boundary: "b").first?.filename == "say \"hi\".txt")
    }

    /// A value that parses neither way is still malformed.
    @Test func malformedEitherWayStillRefused() throws {
        for disposition in ["form-data; name=\"a\\\"; x", "form-data; name=\"a\\\"b", "form-data; name=\"a\\\"\"\""] {
            let body = bytes("--b\r\nContent-Disposition: \(disposition)\r\n\r\nx\r\n--b--")
            #expect(throws: MultipartError.self, "\(disposition)") { try parts(body, boundary: "b") }
        }
    }

    /// The whole upload form over a file, as the upload route reads it.
    @Test func scanFormWithBackslashFieldName() throws {
        let body = bytes("--b\r\nContent-Disposition: form-data; name=\"\\\"\r\n\r\n\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.png\"\r\nContent-Type: */*\r\n\r\nPNG\r\n--b--\r\n")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("depot-hostile-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(body)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        var streamed: [UInt8] = []
        let form = try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: "b") { streamed += $0 }
        #expect(form.fields == ["\\": ""])
        #expect(form.file?.filename == "f.png")
        #expect(streamed == bytes("PNG"))
    }
}
