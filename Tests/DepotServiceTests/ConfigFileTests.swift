import DepotService
import Testing

@Suite struct ConfigFileTests {
    @Test func sectionsAndKeysAreRead() throws {
        // "[section]" headers and "key = value" lines, with surrounding spaces trimmed.
        let file = try ConfigFile(text: "[store]\n  endpoint   =   http://x:1  \nbucket=depot\n[ auth ]\nissuer = me\n")
        #expect(file.string("store", "endpoint") == "http://x:1")
        #expect(file.string("store", "bucket") == "depot")
        #expect(file.string("auth", "issuer") == "me")
        #expect(file.string("auth", "endpoint") == nil)
        #expect(file.string("missing", "x") == nil)
    }

    @Test func commentsAreIgnored() throws {
        // "#" and ";" comment lines, and " #" after a value, are not part of anything.
        let file = try ConfigFile(text: "# comment\n; also comment\n[s]\nkey = value # trailing note\n  # indented comment\nurl = http://h/#frag\n")
        #expect(file.string("s", "key") == "value")
        #expect(file.string("s", "url") == "http://h/#frag")
        #expect(file.sections["s"]?.count == 2)
    }

    @Test func valueMayContainEqualsSigns() throws {
        // Only the first "=" separates key and value.
        let file = try ConfigFile(text: "[s]\nkey = a=b=c\n")
        #expect(file.string("s", "key") == "a=b=c")
    }

    @Test func emptyValueCountsAsUnset() throws {
        // "key =" leaves the key unset, so its default applies.
        let file = try ConfigFile(text: "[s]\nkey =\n")
        #expect(file.string("s", "key") == nil)
        #expect(try file.int("s", "key") == nil)
    }

    @Test func laterValueWins() throws {
        // A key given twice takes its last value; a section opened twice merges.
        let file = try ConfigFile(text: "[s]\na = 1\n[t]\nx = y\n[s]\na = 2\nb = 3\n")
        #expect(file.string("s", "a") == "2")
        #expect(file.string("s", "b") == "3")
    }

    @Test func emptySectionExists() throws {
        // A section with no keys is still known (it can define a plan with all defaults).
        let file = try ConfigFile(text: "[plan.free]\n")
        #expect(file.sections["plan.free"] == [:])
    }

    @Test func lineWithoutEqualsIsRefusedWithItsNumber() throws {
        // A stray line is an error naming its line.
        let error = #expect(throws: ConfigurationError.self) { try ConfigFile(text: "[s]\nkey = 1\nnonsense\n") }
        #expect(error?.message == "line 3: expected key = value")
    }

    @Test func unterminatedSectionIsRefused() throws {
        // "[store" without "]" is an error naming its line.
        let error = #expect(throws: ConfigurationError.self) { try ConfigFile(text: "\n[store\n") }
        #expect(error?.message == "line 2: unterminated section header")
    }

    @Test func windowsLineEndingsReadLikeUnixOnes() throws {
        // A file saved with CRLF line endings gives the same values, with no stray carriage returns.
        let unix = "# c\n[store]\nendpoint = http://x:1\nbucket = depot\n"
        let crlf = try ConfigFile(text: unix.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(crlf.string("store", "endpoint") == "http://x:1")
        #expect(crlf.string("store", "bucket") == "depot")
        #expect(crlf.sections == (try ConfigFile(text: unix)).sections)
    }

    @Test func intAcceptsSizesAndRefusesWords() throws {
        // int() reads plain numbers and sizes; anything else is an error naming section, key and value.
        let file = try ConfigFile(text: "[s]\nn = 42\nsize = 16MiB\nbad = lots\n")
        #expect(try file.int("s", "n") == 42)
        #expect(try file.int("s", "size") == 16 << 20)
        let error = #expect(throws: ConfigurationError.self) { try file.int("s", "bad") }
        #expect(error?.message == "[s] bad: 'lots' is not a number")
    }
}
