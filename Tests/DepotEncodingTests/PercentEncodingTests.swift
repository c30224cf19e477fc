import DepotEncoding
import Testing

@Suite struct PercentEncodingTests {
    @Test func decodesEscapesInEitherCase() {
        // %41, %2f and %2F decode; plain text is unchanged.
        #expect(PercentEncoding.decode("%41") == "A")
        #expect(PercentEncoding.decode("a%2fb%2Fc") == "a/b/c")
        #expect(PercentEncoding.decode("plain.txt") == "plain.txt")
        #expect(PercentEncoding.decode("") == "")
    }

    @Test func plusIsNotASpaceInPaths() {
        // In a path segment "+" is a plus sign.
        #expect(PercentEncoding.decode("a+b") == "a+b")
    }

    @Test func decodesMultiByteUTF8() {
        // %C3%A9 is "é", %F0%9F%98%80 an emoji.
        #expect(PercentEncoding.decode("caf%C3%A9") == "caf\u{E9}")
        #expect(PercentEncoding.decode("%F0%9F%98%80") == "\u{1F600}")
    }

    @Test func decodesControlCharactersForTheDomainToJudge() {
        // %00 and %0A decode to NUL and LF; refusing them is the object-name rules' job.
        #expect(PercentEncoding.decode("a%00b") == "a\u{0}b")
        #expect(PercentEncoding.decode("%0A") == "\n")
    }

    @Test func malformedEscapesAreRefused() {
        // A lone or cut-off "%", non-hex digits and bytes that are not UTF-8 give nil.
        for text in ["%", "%4", "a%", "a%4", "%G1", "%1G", "%%41", "% 41", "%FF", "%C3", "%C3%28", "%E2%82", "%ED%A0%80", "%C0%AF"] {
            #expect(PercentEncoding.decode(text) == nil, "\(text)")
        }
    }

    @Test func decodesOnlyOnce() {
        // "%252e%252e" decodes to "%2e%2e", not to "..".
        #expect(PercentEncoding.decode("%252e%252e") == "%2e%2e")
    }

    @Test func encodeKeepsOnlyUnreservedCharacters() {
        // RFC 3986 unreserved characters stay; everything else is %XX with uppercase hex.
        #expect(PercentEncoding.encode("AZaz09-._~") == "AZaz09-._~")
        #expect(PercentEncoding.encode("organizations/o/a b.txt") == "organizations%2Fo%2Fa%20b.txt")
        #expect(PercentEncoding.encode("a+b&c=d?e#f%") == "a%2Bb%26c%3Dd%3Fe%23f%25")
        #expect(PercentEncoding.encode("caf\u{E9}") == "caf%C3%A9")
        #expect(PercentEncoding.encode("\u{0}\n") == "%00%0A")
        #expect(PercentEncoding.encode("") == "")
    }

    @Test func encodeThenDecodeRoundTrips() {
        // Any string survives encode followed by decode.
        for text in ["organizations/o/files/u/x_20261130_101500_a1b2c3d4.pdf", " +%/?#[]@!$&'()*,;=", "\u{1F600}\u{E9}\u{202E}", "\u{0}\u{7F}"] {
            #expect(PercentEncoding.decode(PercentEncoding.encode(text)) == text, "\(text.debugDescription)")
        }
    }

    @Test func allowedBytesChooseWhatStaysAsItIs() {
        // "/" stays with .unreservedAndSlash; RFC 8187 attr-char keeps "!#$&+^`|" but not "/", "%" or "'".
        #expect(PercentEncoding.encode("/a b/", allowing: .unreservedAndSlash) == "/a%20b/")
        #expect(PercentEncoding.encode("a!#$&+^`|~.b", allowing: .attrChar) == "a!#$&+^`|~.b")
        #expect(PercentEncoding.encode("a/b%c'd\u{E9}", allowing: .attrChar) == "a%2Fb%25c%27d%C3%A9")
        #expect(!PercentEncoding.AllowedBytes.unreserved.contains(0xC3))
    }

    @Test func decodeBytesKeepsWhateverTheEscapesHold() {
        // Bytes that are not UTF-8 survive decodeBytes; "+" is a space only in query form.
        #expect(PercentEncoding.decodeBytes(Array("%FFa%00".utf8)) == [0xFF, 0x61, 0x00])
        #expect(PercentEncoding.decodeBytes(Array("%4".utf8)) == nil)
        #expect(PercentEncoding.decode("a+b%20c", plusIsSpace: true) == "a b c")
    }
}
