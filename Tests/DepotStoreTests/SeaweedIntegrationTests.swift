import DepotCrypto
import DepotEncoding
import Foundation
import Testing
@testable import DepotStore

/// Against a real SeaweedFS started per test (`weed mini` on free ports, killed by PID afterwards).
/// Serialized: one store process at a time keeps memory and CPU bounded.
@Suite(.serialized, .enabled(if: WeedServer.unavailableReason == nil, "weed (SeaweedFS) is not on PATH: integration tests skipped"))
struct SeaweedIntegrationTests {
    static let MiB = 1 << 20

    /// Starts a store, creates the bucket, runs `body`, always stops the store.
    func withStore(_ body: (WeedServer, S3Client) throws -> Void) throws {
        let server = try WeedServer.start()
        defer { server.stop() }
        let client = S3Client(server.configuration())
        try client.createBucketIfNeeded()
        try body(server, client)
    }

    // Bucket creation is idempotent; ping reports a missing bucket as notFound.
    @Test func bucketCreationIsIdempotent() throws {
        let server = try WeedServer.start()
        defer { server.stop() }
        let client = S3Client(server.configuration())
        #expect(throws: StoreError.notFound) { try client.ping() }
        try client.createBucketIfNeeded()
        try client.createBucketIfNeeded()
        try client.ping()
        // A non-us-east-1 region sends a CreateBucketConfiguration body.
        let other = S3Client(server.configuration(bucket: "depot-eu", region: "eu-west-1"))
        try other.createBucketIfNeeded()
        try other.createBucketIfNeeded()
        try other.ping()
    }

    // Put with SSE-C, head with the key, list with prefix and continuation (2 per page over 5), delete.
    @Test func putHeadListDelete() throws {
        try withStore { _, client in
            let sse = randomSSEKey()
            var expected: [String: [UInt8]] = [:]
            for i in 0..<5 {
                let key = "list/obj-\(i).bin"
                let bytes = testBytes(1000 + i, seed: UInt64(i + 1))
                expected[key] = bytes
                let etag = try client.putObject(key: key, body: .bytes(bytes), contentType: "application/x-test", sse: sse)
                #expect(etag == md5Hex(bytes))  // SeaweedFS: SSE-C ETag is the plaintext MD5
            }
            _ = try client.putObject(key: "other/outside.bin", body: .bytes([1, 2, 3]), contentType: "application/x-test", sse: nil)
            // The kept-alive connection is reused.
            _ = try client.headObject(key: "other/outside.bin", sse: nil)
            #expect(client.lastNewConnections == 0)

            let info = try #require(try client.headObject(key: "list/obj-3.bin", sse: sse))
            #expect(info.size == 1003)
            #expect(info.etag == md5Hex(expected["list/obj-3.bin"]!))
            #expect(info.contentType == "application/x-test")
            #expect(abs(info.lastModified?.timeIntervalSinceNow ?? .infinity) < 120)

            var pages: [StoreListPage] = []
            var token: String?
            repeat {
                let page = try client.listObjects(prefix: "list/", continuationToken: token, maxKeys: 2)
                pages.append(page)
                token = page.nextContinuationToken
            } while token != nil && pages.count < 10
            #expect(pages.map(\.objects.count) == [2, 2, 1])
            let listed = pages.flatMap(\.objects)
            #expect(listed.map(\.key) == expected.keys.sorted())
            for object in listed {
                #expect(object.size == Int64(expected[object.key]!.count))
                #expect(object.etag == md5Hex(expected[object.key]!))
                #expect(abs(object.lastModified?.timeIntervalSinceNow ?? .infinity) < 120)
            }

            for key in expected.keys { try client.deleteObject(key: key) }
            #expect(try client.headObject(key: "list/obj-0.bin", sse: sse) == nil)
            try client.deleteObject(key: "list/obj-0.bin")  // already gone: still success
            #expect(try client.listObjects(prefix: "list/", continuationToken: nil, maxKeys: 10).objects.isEmpty)
            #expect(try client.listObjects(prefix: "other/", continuationToken: nil, maxKeys: 10).objects.count == 1)
        }
    }

    // SSE-C object: HEAD without or with a wrong key is rejected; presigned GET/HEAD need exactly the returned headers.
    @Test func sseCObjectAndPresignedAccess() throws {
        try withStore { _, client in
            let sse = randomSSEKey()
            let bytes = testBytes(70_000, seed: 42)
            _ = try client.putObject(key: "sse/doc.bin", body: .bytes(bytes), contentType: "text/plain", sse: sse)

            let noKey = #expect(throws: StoreError.self) { try client.headObject(key: "sse/doc.bin", sse: nil) }
            if case .rejected(let status, _)? = noKey { #expect(status == 400) } else { Issue.record("HEAD without key: \(String(describing: noKey))") }
            let wrongKey = #expect(throws: StoreError.self) { try client.headObject(key: "sse/doc.bin", sse: randomSSEKey()) }
            if case .rejected? = wrongKey {} else { Issue.record("HEAD with wrong key: \(String(describing: wrongKey))") }

            let get = client.presign(method: "GET", key: "sse/doc.bin", expiresIn: 300, sse: sse, extraQuery: [], now: Date())
            let fetched = try curlFetch(get.url, headers: get.headers)
            #expect(fetched.status == 200)
            #expect(fetched.body == bytes)

            let bare = try curlFetch(get.url, headers: [])
            #expect(bare.status >= 400 && bare.status < 500)
            #expect(bare.body != bytes)
            let otherKey = try curlFetch(get.url, headers: [get.headers[0]] + randomSSEKey().headers)
            #expect(otherKey.status == 403)  // headers differ from the signed ones

            // Signed response overrides.
            let inline = client.presign(method: "GET", key: "sse/doc.bin", expiresIn: 300, sse: sse,
                                        extraQuery: [("response-content-type", "application/octet-stream"),
                                                     ("response-content-disposition", "attachment; filename=\"a b.bin\"")],
                                        now: Date())
            let overridden = try curlFetch(inline.url, headers: inline.headers)
            #expect(overridden.status == 200)
            #expect(overridden.headers["content-type"] == "application/octet-stream")
            #expect(overridden.headers["content-disposition"] == "attachment; filename=\"a b.bin\"")

            let head = client.presign(method: "HEAD", key: "sse/doc.bin", expiresIn: 300, sse: sse, extraQuery: [], now: Date())
            let headed = try curlFetch(head.url, method: "HEAD", headers: head.headers)
            #expect(headed.status == 200)
            #expect(headed.headers["content-length"] == "70000")
            #expect(try curlFetch(head.url, method: "GET", headers: head.headers).status == 403)  // method is signed

            let expired = client.presign(method: "GET", key: "sse/doc.bin", expiresIn: 1, sse: sse, extraQuery: [],
                                         now: Date().addingTimeInterval(-60))
            #expect(try curlFetch(expired.url, headers: expired.headers).status == 403)
        }
    }

    // Multipart upload of 5 MiB + 5 MiB + 1 MiB read from a file by descriptor/offset, then ranged presigned GETs.
    @Test func multipartUploadFromFile() throws {
        try withStore { _, client in
            let sse = randomSSEKey()
            let lead = 4096  // parts start at a non-zero file offset
            let total = 11 * Self.MiB
            let data = testBytes(lead + total, seed: 7)
            let payload = Array(data[lead...])
            let file = try TempFile(data)
            defer { file.close() }

            let key = "multi/big.bin"
            let uploadID = try client.createMultipartUpload(key: key, contentType: "application/octet-stream", sse: sse)
            let sizes = [5 * Self.MiB, 5 * Self.MiB, 1 * Self.MiB]
            var parts: [(number: Int, etag: String)] = []
            var offset = Int64(lead)
            for (index, size) in sizes.enumerated() {
                let etag = try client.uploadPart(key: key, uploadID: uploadID, partNumber: index + 1,
                                                 body: .file(descriptor: file.descriptor, offset: offset, length: Int64(size)),
                                                 sse: sse)
                let slice = Array(data[Int(offset)..<(Int(offset) + size)])
                #expect(etag == md5Hex(slice))
                parts.append((index + 1, etag))
                offset += Int64(size)
            }
            let inProgress = try client.listMultipartUploads(prefix: "multi/")
            #expect(inProgress.contains { $0.key == key && $0.uploadID == uploadID })
            #expect(inProgress.allSatisfy { abs($0.initiated?.timeIntervalSinceNow ?? .infinity) < 300 })

            let etag = try client.completeMultipartUpload(key: key, uploadID: uploadID, parts: parts, sse: sse)
            #expect(etag.hasSuffix("-3"))
            #expect(try client.listMultipartUploads(prefix: "multi/").isEmpty)

            let info = try #require(try client.headObject(key: key, sse: sse))
            #expect(info.size == Int64(total))

            let get = client.presign(method: "GET", key: key, expiresIn: 300, sse: sse, extraQuery: [], now: Date())
            // A range across the first part boundary, and the tail.
            let start = 5 * Self.MiB - 100
            let ranged = try curlFetch(get.url, headers: get.headers + [("Range", "bytes=\(start)-\(start + 199)")])
            #expect(ranged.status == 206)
            #expect(ranged.body == Array(payload[start..<(start + 200)]))
            let tail = try curlFetch(get.url, headers: get.headers + [("Range", "bytes=-10")])
            #expect(tail.status == 206)
            #expect(tail.body == Array(payload[(total - 10)...]))
            let whole = try curlFetch(get.url, headers: get.headers)
            #expect(whole.status == 200)
            #expect(whole.body.count == total)
            #expect(whole.body == payload)
        }
    }

    // Abort removes an in-progress upload from the listing; aborting again still succeeds.
    @Test func abortMultipartUpload() throws {
        try withStore { _, client in
            let key = "abort/x.bin"
            let uploadID = try client.createMultipartUpload(key: key, contentType: "application/octet-stream", sse: nil)
            _ = try client.uploadPart(key: key, uploadID: uploadID, partNumber: 1, body: .bytes(testBytes(1000, seed: 3)), sse: nil)
            #expect(try client.listMultipartUploads(prefix: "abort/").map(\.uploadID) == [uploadID])
            #expect(try client.listMultipartUploads(prefix: "elsewhere/").isEmpty)
            try client.abortMultipartUpload(key: key, uploadID: uploadID)
            #expect(try client.listMultipartUploads(prefix: "abort/").isEmpty)
            try client.abortMultipartUpload(key: key, uploadID: uploadID)
            #expect(try client.headObject(key: key, sse: nil) == nil)
        }
    }

    // Completing with a non-last part under 5 MiB is refused with EntityTooSmall.
    @Test func multipartSmallPartRejected() throws {
        try withStore { _, client in
            let key = "small/x.bin"
            let uploadID = try client.createMultipartUpload(key: key, contentType: "application/octet-stream", sse: nil)
            let e1 = try client.uploadPart(key: key, uploadID: uploadID, partNumber: 1, body: .bytes(testBytes(100, seed: 1)), sse: nil)
            let e2 = try client.uploadPart(key: key, uploadID: uploadID, partNumber: 2, body: .bytes(testBytes(100, seed: 2)), sse: nil)
            #expect(throws: StoreError.rejected(status: 400, code: "EntityTooSmall")) {
                try client.completeMultipartUpload(key: key, uploadID: uploadID, parts: [(1, e1), (2, e2)], sse: nil)
            }
            try client.abortMultipartUpload(key: key, uploadID: uploadID)
        }
    }

    // A body sent with the digest its caller computed, signed with that
    // digest (StoreUnitTests), is stored and reads back whole.
    @Test func digestedBytesAreStored() throws {
        try withStore { _, client in
            let sse = randomSSEKey()
            let bytes = testBytes(70_000, seed: 9)
            let digest = Hex.encode(DigestHasher.hash(.sha256, bytes))
            let etag = try client.putObject(key: "digest/ok.bin", body: .digestedBytes(bytes, sha256: digest),
                                            contentType: "application/x-test", sse: sse)
            #expect(etag == md5Hex(bytes))
            #expect(try client.getObject(key: "digest/ok.bin", sse: sse, maxBytes: 100_000) == bytes)
        }
    }

    // putObject streams a file range (several read-callback chunks); a file shorter than the range fails cleanly.
    @Test func putObjectFromFileRange() throws {
        try withStore { _, client in
            let data = testBytes(3 * Self.MiB + 777, seed: 11)
            let file = try TempFile(data)
            defer { file.close() }
            let sse = randomSSEKey()
            let length = 3 * Self.MiB
            let etag = try client.putObject(key: "file/x.bin", body: .file(descriptor: file.descriptor, offset: 777, length: Int64(length)),
                                            contentType: "application/octet-stream", sse: sse)
            let slice = Array(data[777...])
            #expect(etag == md5Hex(slice))
            #expect(try client.headObject(key: "file/x.bin", sse: sse)?.size == Int64(length))
            let get = client.presign(method: "GET", key: "file/x.bin", expiresIn: 60, sse: sse, extraQuery: [], now: Date())
            #expect(try curlFetch(get.url, headers: get.headers).body == slice)

            let short = #expect(throws: StoreError.self) {
                try client.putObject(key: "file/short.bin", body: .file(descriptor: file.descriptor, offset: 0, length: Int64(data.count + 10)),
                                     contentType: "application/octet-stream", sse: nil)
            }
            if case .unavailable(let message)? = short { #expect(message.contains("ended")) } else { Issue.record("\(String(describing: short))") }
            // The handle still works after an aborted transfer.
            try client.ping()
        }
    }

    /// A stream body handing out at most `step` bytes per read, as a client's body arrives.
    final class ChunkedSource: StoreBodySource {
        let bytes: [UInt8]
        let step: Int
        let failAt: Int?
        init(_ bytes: [UInt8], step: Int, failAt: Int? = nil) { (self.bytes, self.step, self.failAt) = (bytes, step, failAt) }
        struct Gone: Error {}
        func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let start = Int(offset)
            if let failAt, start >= failAt { throw Gone() }
            let count = min(buffer.count, step, bytes.count - start)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
            return count
        }
    }

    // A part whose body is pulled while it is sent is stored byte for byte; a source that ends early fails the
    // request as the store unavailable, and one that throws has its own error come back unchanged.
    @Test func partFromAStreamSource() throws {
        try withStore { _, client in
            let sse = randomSSEKey()
            let data = testBytes(6 * Self.MiB + 5, seed: 21)
            let key = "stream/part.bin"
            let uploadID = try client.createMultipartUpload(key: key, contentType: "application/octet-stream", sse: sse)
            let etag = try client.uploadPart(key: key, uploadID: uploadID, partNumber: 1,
                                             body: .stream(ChunkedSource(data, step: 7000), length: Int64(data.count)), sse: sse)
            #expect(etag == md5Hex(data))
            let short = #expect(throws: StoreError.self) {
                try client.uploadPart(key: key, uploadID: uploadID, partNumber: 2,
                                      body: .stream(ChunkedSource([1, 2, 3], step: 2), length: 10), sse: sse)
            }
            if case .unavailable(let message)? = short { #expect(message.contains("ended")) } else { Issue.record("\(String(describing: short))") }
            #expect(throws: ChunkedSource.Gone.self) {
                try client.uploadPart(key: key, uploadID: uploadID, partNumber: 2,
                                      body: .stream(ChunkedSource(data, step: 65536, failAt: 1 << 20), length: Int64(data.count)), sse: sse)
            }
            _ = try client.completeMultipartUpload(key: key, uploadID: uploadID, parts: [(1, etag)], sse: sse)
            let get = client.presign(method: "GET", key: key, expiresIn: 60, sse: sse, extraQuery: [], now: Date())
            #expect(try curlFetch(get.url, headers: get.headers).body == data)
        }
    }

    // Keys with spaces, '+', '=', '&' and non-ASCII sign and round-trip (path-segment encoding matches the server).
    @Test func keysNeedingEncoding() throws {
        try withStore { _, client in
            let keys = ["enc/with space/a+b=c&d.txt", "enc/ünïcødé ✓.txt", "enc/tilde~under_score-dash.txt"]
            for (i, key) in keys.enumerated() {
                let bytes = testBytes(10 + i, seed: UInt64(100 + i))
                _ = try client.putObject(key: key, body: .bytes(bytes), contentType: "text/plain", sse: nil)
                #expect(try client.headObject(key: key, sse: nil)?.size == Int64(bytes.count))
                let get = client.presign(method: "GET", key: key, expiresIn: 60, sse: nil, extraQuery: [], now: Date())
                #expect(try curlFetch(get.url, headers: get.headers).body == bytes)
            }
            let listed = try client.listObjects(prefix: "enc/", continuationToken: nil, maxKeys: 100).objects.map(\.key)
            #expect(listed == keys.sorted())
        }
    }

    // Wrong secret or unknown access key: rejected 403 with the S3 code, and no secret in the error text.
    @Test func wrongCredentialsRejected() throws {
        try withStore { server, _ in
            var config = server.configuration()
            config.secretKey = "not-the-secret-xyz"
            let badSecret = #expect(throws: StoreError.self) {
                try S3Client(config).putObject(key: "x", body: .bytes([1]), contentType: "text/plain", sse: nil)
            }
            #expect(badSecret == .rejected(status: 403, code: "SignatureDoesNotMatch"))
            #expect(!"\(String(describing: badSecret))".contains("not-the-secret-xyz"))
            config.accessKey = "UNKNOWNKEY"
            let badKey = #expect(throws: StoreError.self) { try S3Client(config).listObjects(prefix: "", continuationToken: nil, maxKeys: 1) }
            #expect(badKey == .rejected(status: 403, code: "InvalidAccessKeyId"))
        }
    }

    // A stopped store gives .unavailable quickly (well within the connect timeout), never a hang.
    @Test func stoppedStoreIsUnavailable() throws {
        let server = try WeedServer.start()
        defer { server.stop() }
        let client = S3Client(server.configuration(connectTimeout: 2))
        try client.createBucketIfNeeded()
        _ = try client.putObject(key: "k", body: .bytes([1, 2, 3]), contentType: "text/plain", sse: nil)
        server.stop()
        let start = Date()
        let error = #expect(throws: StoreError.self) { try client.ping() }
        #expect(Date().timeIntervalSince(start) < 3)
        if case .unavailable? = error {} else { Issue.record("expected .unavailable, got \(String(describing: error))") }
        #expect(throws: StoreError.self) { try client.headObject(key: "k", sse: nil) }
    }

    // SSE-C data never reaches the store's disk in plaintext (single put and multipart parts); a plain object does (control).
    @Test func sseCDataIsNotPlaintextOnDisk() throws {
        try withStore { server, client in
            let sse = randomSSEKey()
            let dataDir = server.directory.appendingPathComponent("data").path
            func onDisk(_ bytes: [UInt8]) -> Bool {
                let needle = Data(bytes[5000..<5064])
                let files = FileManager.default.enumerator(atPath: dataDir)
                while let name = files?.nextObject() as? String {
                    if let contents = FileManager.default.contents(atPath: dataDir + "/" + name),
                       contents.range(of: needle) != nil { return true }
                }
                return false
            }
            let control = testBytes(100_000, seed: 500)
            _ = try client.putObject(key: "disk/plain", body: .bytes(control), contentType: "application/octet-stream", sse: nil)
            #expect(onDisk(control))

            let single = testBytes(100_000, seed: 501)
            _ = try client.putObject(key: "disk/single", body: .bytes(single), contentType: "application/octet-stream", sse: sse)
            let part1 = testBytes(5 * Self.MiB, seed: 502)
            let part2 = testBytes(100_000, seed: 503)
            let uploadID = try client.createMultipartUpload(key: "disk/multi", contentType: "application/octet-stream", sse: sse)
            let e1 = try client.uploadPart(key: "disk/multi", uploadID: uploadID, partNumber: 1, body: .bytes(part1), sse: sse)
            let e2 = try client.uploadPart(key: "disk/multi", uploadID: uploadID, partNumber: 2, body: .bytes(part2), sse: sse)
            _ = try client.completeMultipartUpload(key: "disk/multi", uploadID: uploadID, parts: [(1, e1), (2, e2)], sse: sse)
            #expect(!onDisk(single))
            #expect(!onDisk(part1))
            #expect(!onDisk(part2))
        }
    }

    // https endpoint verified with caFile: SSE-C put/head and a presigned GET; without the CA the store is unavailable.
    @Test func httpsWithCAFile() throws {
        let certDir = FileManager.default.temporaryDirectory.appendingPathComponent("depot-tls-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: certDir) }
        guard let tls = makeSelfSignedCertificate(in: certDir) else {
            print("openssl not available: https test skipped")
            return
        }
        let server = try WeedServer.start(httpsCert: tls)
        defer { server.stop() }
        var config = server.configuration()
        config.endpoint = "https://127.0.0.1:\(server.ports["s3.port.https"]!)"
        config.caFile = tls.cert
        let client = S3Client(config)
        try client.createBucketIfNeeded()
        let sse = randomSSEKey()
        let bytes = testBytes(5000, seed: 9)
        _ = try client.putObject(key: "tls/x.bin", body: .bytes(bytes), contentType: "application/octet-stream", sse: sse)
        #expect(try client.headObject(key: "tls/x.bin", sse: sse)?.size == 5000)
        let get = client.presign(method: "GET", key: "tls/x.bin", expiresIn: 60, sse: sse, extraQuery: [], now: Date())
        #expect(get.url.hasPrefix("https://"))
        #expect(try curlFetch(get.url, headers: get.headers, caFile: tls.cert).body == bytes)

        config.caFile = nil
        let untrusted = #expect(throws: StoreError.self) { try S3Client(config).ping() }
        if case .unavailable? = untrusted {} else { Issue.record("expected .unavailable, got \(String(describing: untrusted))") }
    }
}
