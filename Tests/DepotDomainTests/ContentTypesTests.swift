import DepotDomain
import Testing

@Suite struct ContentTypesTests {
    @Test func wellFormedDeclaredTypeIsKept() {
        // A proper type/subtype the client declared is stored as is, whatever the name says.
        #expect(ContentTypes.normalize(declared: "application/pdf", filename: "x.bin") == "application/pdf")
        #expect(ContentTypes.normalize(declared: "application/vnd.ms-excel", filename: "x") == "application/vnd.ms-excel")
        #expect(ContentTypes.normalize(declared: "image/svg+xml", filename: "x.png") == "image/svg+xml")
    }

    @Test func declaredTypeIsLowercasedAndParametersStripped() {
        // Case is folded and parameters such as charset are dropped.
        #expect(ContentTypes.normalize(declared: "Text/Plain; charset=UTF-8", filename: "a.txt") == "text/plain")
        #expect(ContentTypes.normalize(declared: "  image/PNG ; name=\"x\"", filename: "a") == "image/png")
        #expect(ContentTypes.normalize(declared: "text/csv;", filename: "a") == "text/csv")
    }

    @Test func junkDeclaredTypesFallBackToTheExtension() {
        // Anything not a plain type/subtype token pair is ignored in favour of the name.
        let junk = ["", "   ", "text", "text/", "/plain", "*/*", "text/*", "text/plain/extra", "text /plain", "text/pl ain",
                    "text/html\r\nX-Injected: 1", "text/plain\u{0}", "t\u{E9}xt/plain", "text/plain\"", "<script>", "text/(plain)",
                    "text/plain,text/html", "text\\plain", "text/plain@x"]
        for declared in junk {
            #expect(ContentTypes.normalize(declared: declared, filename: "notes.txt") == "text/plain", "\(declared.debugDescription)")
        }
    }

    @Test func octetStreamFallsBackToTheExtension() {
        // application/octet-stream says nothing, so the extension decides (case-insensitively).
        #expect(ContentTypes.normalize(declared: "application/octet-stream", filename: "photo.PNG") == "image/png")
        #expect(ContentTypes.normalize(declared: "APPLICATION/OCTET-STREAM; x=y", filename: "a.pdf") == "application/pdf")
        #expect(ContentTypes.normalize(declared: "application/octet-stream", filename: "a.unknown") == "application/octet-stream")
    }

    @Test func missingDeclaredTypeUsesTheExtension() {
        // No declared type: known extensions map to their types, the last extension wins.
        #expect(ContentTypes.normalize(declared: nil, filename: "report.pdf") == "application/pdf")
        #expect(ContentTypes.normalize(declared: nil, filename: "data.CSV") == "text/csv")
        #expect(ContentTypes.normalize(declared: nil, filename: "archive.tar.gz") == "application/gzip")
        #expect(ContentTypes.normalize(declared: nil, filename: "page.html") == "text/html")
        #expect(ContentTypes.normalize(declared: nil, filename: "C:\\dir\\Song.MP3") == "audio/mpeg")
    }

    @Test func unknownOrMissingExtensionIsOctetStream() {
        // No usable extension: application/octet-stream.
        #expect(ContentTypes.normalize(declared: nil, filename: "data.xyz") == "application/octet-stream")
        #expect(ContentTypes.normalize(declared: nil, filename: "README") == "application/octet-stream")
        #expect(ContentTypes.normalize(declared: nil, filename: "") == "application/octet-stream")
        #expect(ContentTypes.normalize(declared: nil, filename: "name.") == "application/octet-stream")
    }

    @Test func nameWithoutADotHasNoExtension() {
        // A file called "pdf" or "html" has no extension, so its name alone does not pick a type.
        #expect(ContentTypes.normalize(declared: nil, filename: "pdf") == "application/octet-stream")
        #expect(ContentTypes.normalize(declared: "application/octet-stream", filename: "html") == "application/octet-stream")
        #expect(ContentTypes.normalize(declared: nil, filename: "svg") == "application/octet-stream")
    }

    @Test func dotfileHasNoExtension() {
        // ".png" is a hidden file named png, as object keys treat it, not a PNG.
        #expect(ContentTypes.normalize(declared: nil, filename: ".png") == "application/octet-stream")
        #expect(ContentTypes.normalize(declared: nil, filename: ".config.json") == "application/json")
    }
}
