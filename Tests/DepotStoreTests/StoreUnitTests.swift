import Foundation
import Testing
@testable import DepotStore

/// Offline pieces of the client: SSE-C headers, presigning, XML, dates, error mapping.
@Suite struct StoreUnitTests {
    func client(_ endpoint: String = "http://127.0.0.1:8333") -> S3Client {
        S3Client(StoreConfiguration(endpoint: endpoint, region: "us-east-1", bucket: "depot",
                                    accessKey: "AK", secretKey: "super-secret-key"))
    }

    // SSE-C headers: algorithm AES256, base64 key and base64 MD5 of the key.
    @Test func sseCustomerKeyHeaders() {
        let key = SSECustomerKey(key: [UInt8](repeating: 0, count: 32))
        let headers = key.headers
        #expect(headers.count == 3)
        #expect(headers[0] == ("x-amz-server-side-encryption-customer-algorithm", "AES256"))
        #expect(headers[1] == ("x-amz-server-side-encryption-customer-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
        // MD5 of 32 zero bytes is 70bc8f4b72a86921468bf8e8441dce51.
        #expect(headers[2] == ("x-amz-server-side-encryption-customer-key-MD5", "cLyPS3KoaSFGi/joRB3OUQ=="))
        #expect(!"\(key)".contains("AAAA"))
    }

    // Endpoint parsing: default ports dropped from the Host header, explicit others kept.
    @Test func endpointParsing() {
        #expect(S3Client.parseEndpoint("http://127.0.0.1:8333").host == "127.0.0.1:8333")
        #expect(S3Client.parseEndpoint("https://S3.Example.com:443/").host == "s3.example.com")
        #expect(S3Client.parseEndpoint("https://s3.example.com:443/").base == "https://s3.example.com:443")
        #expect(S3Client.parseEndpoint("http://[::1]:9000").host == "[::1]:9000")
    }

    // Presigned GET with SSE-C: headers signed (host + 3), key not in the URL, extra query signed.
    @Test func presignWithSSECAndExtraQuery() {
        let sse = SSECustomerKey(key: [UInt8](repeating: 7, count: 32))
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let result = client().presign(method: "GET", key: "org/a b.txt", expiresIn: 600, sse: sse,
                                      extraQuery: [("response-content-type", "text/plain")], now: now)
        #expect(result.url.hasPrefix("http://127.0.0.1:8333/depot/org/a%20b.txt?"))
        #expect(result.url.contains("response-content-type=text%2Fplain"))
        #expect(result.url.contains("X-Amz-Expires=600"))
        #expect(result.url.contains("X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm%3Bx-amz-server-side-encryption-customer-key%3Bx-amz-server-side-encryption-customer-key-md5"))
        #expect(!result.url.contains(sse.headers[1].1.replacingOccurrences(of: "=", with: "%3D")))
        #expect(!result.url.contains("super-secret-key"))
        #expect(result.headers.count == 4)
        #expect(result.headers[0] == ("Host", "127.0.0.1:8333"))
        // Deterministic for the same inputs.
        let again = client().presign(method: "GET", key: "org/a b.txt", expiresIn: 600, sse: sse,
                                     extraQuery: [("response-content-type", "text/plain")], now: now)
        #expect(again.url == result.url)
    }

    // Presign clamps the lifetime to 1...604800 seconds.
    @Test func presignClampsExpiry() {
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        #expect(client().presign(method: "HEAD", key: "k", expiresIn: 10_000_000, sse: nil, extraQuery: [], now: now)
            .url.contains("X-Amz-Expires=604800"))
        #expect(client().presign(method: "HEAD", key: "k", expiresIn: 0, sse: nil, extraQuery: [], now: now)
            .url.contains("X-Amz-Expires=1&"))
    }

    // XML reader: nested elements, entities, CDATA, declaration, self-closing tags.
    @Test func miniXMLParsing() throws {
        let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>depot</Name>
          <Contents><Key>a&amp;b &lt;c&gt; &#233;&#x41;</Key><ETag>&quot;abc&quot;</ETag><Size>5</Size></Contents>
          <Contents><Key><![CDATA[x<y]]></Key><Owner/></Contents>
          <IsTruncated>false</IsTruncated></ListBucketResult>
        """
        let root = try #require(MiniXML.parse(Array(xml.utf8)))
        #expect(root.name == "ListBucketResult")
        let items = root.all("Contents")
        #expect(items.count == 2)
        #expect(items[0].value("Key") == "a&b <c> éA")
        #expect(items[0].value("ETag") == "\"abc\"")
        #expect(items[1].value("Key") == "x<y")
        #expect(items[1].child("Owner") != nil)
        #expect(MiniXML.parse(Array("<a><b></a>".utf8)) == nil)
        #expect(MiniXML.parse(Array("<a>".utf8)) == nil)
    }

    // XML escaping writes the five predefined entities, and reading them back gives the text.
    @Test func miniXMLEscapeRoundTrips() {
        let text = "a&b <c> \"d\" 'e' é"
        #expect(MiniXML.escape(text) == "a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; é")
        #expect(MiniXML.decodeEntities(MiniXML.escape(text)) == text)
    }

    // Dates: ISO 8601 with and without fraction, RFC 1123.
    @Test func dateParsing() {
        #expect(HTTPDates.parseISO8601("2026-11-30T00:53:20Z") == Date(timeIntervalSince1970: 1_796_000_000))
        #expect(HTTPDates.parseISO8601("2026-11-30T00:53:20.500Z") == Date(timeIntervalSince1970: 1_796_000_000.5))
        #expect(HTTPDates.parseRFC1123("Mon, 30 Nov 2026 00:53:20 GMT") == Date(timeIntervalSince1970: 1_796_000_000))
        #expect(HTTPDates.parseISO8601("yesterday") == nil)
    }

    // Error mapping: 404 notFound, 5xx/429 unavailable, other 4xx rejected with the XML code.
    @Test func errorMapping() {
        func answer(_ status: Int, _ code: String?) -> HTTPAnswer {
            HTTPAnswer(status: status, headers: [],
                       body: code.map { Array("<Error><Code>\($0)</Code><Message>m</Message></Error>".utf8) } ?? [])
        }
        #expect(S3Client.failure(answer(404, "NoSuchKey")) == .notFound)
        #expect(S3Client.failure(answer(503, "SlowDown")) == .unavailable("store answered 503 SlowDown"))
        #expect(S3Client.failure(answer(500, nil)) == .unavailable("store answered 500"))
        #expect(S3Client.failure(answer(429, nil)) == .unavailable("store answered 429"))
        #expect(S3Client.failure(answer(403, "SignatureDoesNotMatch")) == .rejected(status: 403, code: "SignatureDoesNotMatch"))
        #expect(S3Client.failure(answer(400, nil)) == .rejected(status: 400, code: "BadRequest"))
    }

    // ETags lose their quotes.
    @Test func etagUnquoting() {
        #expect(S3Client.unquote("\"abc-3\"") == "abc-3")
        #expect(S3Client.unquote("abc") == "abc")
        #expect(S3Client.unquote("W/\"x\"") == "x")
    }

    // The payload hash SigV4 signs: bytes are hashed, a digest given with
    // them is used as it is, streamed bodies are unsigned.
    @Test func payloadHashes() {
        #expect(S3Client.payloadHash(.bytes(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(S3Client.payloadHash(.digestedBytes(Array("abc".utf8), sha256: "given")) == "given")
        #expect(S3Client.payloadHash(.file(descriptor: 0, offset: 0, length: 3)) == SigV4Signer.unsignedPayload)
    }

    // Nothing listens on the port: .unavailable at once, and the message holds no secret.
    @Test func connectionRefusedIsUnavailable() throws {
        let port = WeedServer.freePorts(1)[0]
        let store = client("http://127.0.0.1:\(port)")
        let start = Date()
        let error = #expect(throws: StoreError.self) { try store.ping() }
        #expect(Date().timeIntervalSince(start) < 2)
        guard case .unavailable(let message)? = error else { Issue.record("expected .unavailable"); return }
        #expect(!message.contains("super-secret-key"))
    }

    // A server that accepts but never answers: .unavailable once the request timeout passes.
    @Test func silentServerTimesOut() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(ok)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let store = S3Client(StoreConfiguration(endpoint: "http://127.0.0.1:\(port)", region: "us-east-1",
                                                bucket: "depot", accessKey: "AK", secretKey: "super-secret-key",
                                                connectTimeoutSeconds: 1, requestTimeoutSeconds: 1))
        let start = Date()
        let error = #expect(throws: StoreError.self) { try store.headObject(key: "k", sse: nil) }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.9 && elapsed < 3)
        guard case .unavailable? = error else { Issue.record("expected .unavailable, got \(String(describing: error))"); return }
    }
}
