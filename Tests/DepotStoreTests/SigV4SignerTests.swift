import Foundation
import Testing
@testable import DepotStore

/// The examples of the AWS S3 SigV4 documentation ("Signature Calculations for the
/// Authorization Header: Transferring Payload in a Single Chunk" and "Query Parameters").
@Suite struct SigV4SignerTests {
    let signer = SigV4Signer(accessKey: "AKIAIOSFODNN7EXAMPLE",
                             secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    let host = "examplebucket.s3.amazonaws.com"

    // AWS example "GET Object" with Range: canonical request, string to sign and signature.
    @Test func getObjectExample() {
        let headers = [("Host", host), ("Range", "bytes=0-9"),
                       ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), ("x-amz-date", "20130524T000000Z")]
        let canonical = signer.canonicalRequest(method: "GET", rawPath: "/test.txt", query: [], headers: headers,
                                                payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(canonical == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signer.stringToSign(canonicalRequest: canonical, amzDate: "20130524T000000Z") == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
        let auth = signer.authorization(method: "GET", rawPath: "/test.txt", query: [], headers: headers,
                                        payloadHash: SigV4Signer.emptyPayloadHash, amzDate: "20130524T000000Z")
        #expect(auth == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    // signedHeaders() adds x-amz-date and x-amz-content-sha256 itself and reproduces the GET example.
    @Test func signedHeadersAddsDateAndPayloadHash() {
        let all = signer.signedHeaders(method: "GET", rawPath: "/test.txt", query: [],
                                       headers: [("Host", host), ("Range", "bytes=0-9")],
                                       payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(all.contains { $0 == ("x-amz-date", "20130524T000000Z") })
        #expect(all.last?.1.hasSuffix("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == true)
    }

    // AWS example "PUT Object": '$' in the key is encoded, extra signed headers, real payload hash.
    @Test func putObjectExample() {
        let payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        let headers = [("Host", host), ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-date", "20130524T000000Z"),
                       ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("x-amz-content-sha256", payload)]
        let canonical = signer.canonicalRequest(method: "PUT", rawPath: "/test$file.text", query: [],
                                                headers: headers, payloadHash: payload)
        #expect(canonical.hasPrefix("PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"))
        let auth = signer.authorization(method: "PUT", rawPath: "/test$file.text", query: [], headers: headers,
                                        payloadHash: payload, amzDate: "20130524T000000Z")
        #expect(auth.hasSuffix("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
    }

    // AWS example "GET Bucket Lifecycle": a valueless subresource is canonicalized as "lifecycle=".
    @Test func getBucketLifecycleExample() {
        let headers = [("Host", host), ("x-amz-date", "20130524T000000Z"),
                       ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)]
        let auth = signer.authorization(method: "GET", rawPath: "/", query: [("lifecycle", "")], headers: headers,
                                        payloadHash: SigV4Signer.emptyPayloadHash, amzDate: "20130524T000000Z")
        #expect(auth.hasSuffix("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
    }

    // AWS example "Get Bucket (List Objects)": query parameters sorted by name.
    @Test func listObjectsExample() {
        let headers = [("Host", host), ("x-amz-date", "20130524T000000Z"),
                       ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)]
        let auth = signer.authorization(method: "GET", rawPath: "/", query: [("prefix", "J"), ("max-keys", "2")],
                                        headers: headers, payloadHash: SigV4Signer.emptyPayloadHash,
                                        amzDate: "20130524T000000Z")
        #expect(auth.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    // AWS presigned URL example (GET /test.txt, 86400 s, host only signed).
    @Test func presignedURLExample() {
        let query = signer.presignedQuery(method: "GET", rawPath: "/test.txt", query: [], headers: [("Host", host)],
                                          expiresIn: 86400, date: date)
        #expect(query == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    // S3 URI encoding: unreserved kept, '/' kept in paths only, UTF-8 as uppercase %XX.
    @Test func uriEncoding() {
        #expect(SigV4Signer.uriEncode("AZaz09-._~", keepSlash: false) == "AZaz09-._~")
        #expect(SigV4Signer.uriEncode("a b+c=d&e/f", keepSlash: false) == "a%20b%2Bc%3Dd%26e%2Ff")
        #expect(SigV4Signer.uriEncode("é*", keepSlash: false) == "%C3%A9%2A")
        #expect(SigV4Signer.canonicalURI("/bucket/dir/my file (1).txt") == "/bucket/dir/my%20file%20%281%29.txt")
        #expect(SigV4Signer.canonicalURI("bucket//x") == "/bucket//x")
    }

    // Canonical query: encoded, sorted by name then value, empty values kept as "name=".
    @Test func canonicalQuerySorting() {
        let query = SigV4Signer.canonicalQuery([("uploads", ""), ("prefix", "a/b c"), ("b", "2"), ("b", "1")])
        #expect(query == "b=1&b=2&prefix=a%2Fb%20c&uploads=")
    }

    // Canonical headers: lowercased, sorted, values trimmed and inner spaces collapsed.
    @Test func canonicalHeaderNormalization() {
        let result = SigV4Signer.canonicalHeaders([("X-B", "  two   words "), ("Host", "h:1"), ("x-a", "v")])
        #expect(result.block == "host:h:1\nx-a:v\nx-b:two words\n")
        #expect(result.signed == "host;x-a;x-b")
    }

    // The x-amz-date / date stamp formatting in UTC.
    @Test func timestampFormatting() {
        let stamps = SigV4Signer.timestamps(Date(timeIntervalSince1970: 1_796_000_000.9))
        #expect(stamps.amzDate == "20261130T005320Z")
        #expect(stamps.dateStamp == "20261130")
    }
}
