import DepotEncoding
import DepotHTTP
import Testing

@Suite struct QueryParametersTests {
    @Test func namesAndValuesAreRead() {
        // "page=2&page_size=50" gives both values by name.
        let q = QueryParameters("page=2&page_size=50")
        #expect(q["page"] == "2")
        #expect(q["page_size"] == "50")
        #expect(q["sort"] == nil)
    }

    @Test func plusIsASpaceAndPercentEscapesAreDecoded() {
        // "+" means space, "%2B" a literal plus, and %XX sequences decode as UTF-8.
        let q = QueryParameters("a=hello+world&b=a%2Bb&c=%E2%9C%93&d=100%25&e=%2e%2e%2F")
        #expect(q["a"] == "hello world")
        #expect(q["b"] == "a+b")
        #expect(q["c"] == "\u{2713}")
        #expect(q["d"] == "100%")
        #expect(q["e"] == "../")
    }

    @Test func encodedObjectKeyRoundTrips() {
        // An objectKey percent-encoded by presigned-url comes back exactly.
        let key = "organizations/o/files/u/report_20261130_101500_a1b2c3d4.pdf"
        let q = QueryParameters("objectKey=\(PercentEncoding.encode(key))&type=inline")
        #expect(q["objectKey"] == key)
        #expect(q["type"] == "inline")
    }

    @Test func namesAreDecodedToo() {
        // A percent-encoded or plus-spaced name is matched by its decoded form.
        let q = QueryParameters("object%4Bey=x&a+b=y")
        #expect(q["objectKey"] == "x")
        #expect(q["a b"] == "y")
    }

    @Test func repeatedNamesKeepTheFirstValue() {
        // "type=attachment&type=inline": the first one counts, so a second cannot override a signed value.
        let q = QueryParameters("type=attachment&type=inline&expires=1&expires=9999999999")
        #expect(q["type"] == "attachment")
        #expect(q["expires"] == "1")
    }

    @Test func emptyPiecesAndValuesAreHandled() {
        // "&&", a name without "=", an empty value and "=" inside a value all behave predictably.
        let q = QueryParameters("&&flag&empty=&eq=a=b&")
        #expect(q["flag"] == "")
        #expect(q["empty"] == "")
        #expect(q["eq"] == "a=b")
        #expect(q.pairs.count == 3)
        #expect(QueryParameters("").pairs.isEmpty)
    }

    @Test func malformedEscapesInAValueNeverPassAsValid() {
        // "%zz", a cut-off "%4" or "%", and bytes that are not UTF-8 give a replacement value, never the raw text.
        let q = QueryParameters("a=%zz&b=%4&c=%&d=%FF&e=%E2%9C&f=ok")
        for name in ["a", "b", "c", "d", "e"] {
            #expect(q[name] == "\u{FFFD}", "\(name)")
        }
        #expect(q["f"] == "ok")
    }

    @Test func malformedFirstValueStillWinsOverALaterOne() {
        // A repeated name with a malformed first value does not fall through to the second.
        let q = QueryParameters("expires=%zz&expires=9999999999")
        #expect(q["expires"] == "\u{FFFD}")
    }

    @Test func malformedNameMatchesNothing() {
        // A name with a broken escape cannot be looked up by its raw text.
        let q = QueryParameters("objectKey%=x&page=1")
        #expect(q["objectKey%"] == nil)
        #expect(q["objectKey"] == nil)
        #expect(q["page"] == "1")
    }
}
