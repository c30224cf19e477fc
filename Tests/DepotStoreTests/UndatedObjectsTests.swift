import Foundation
import Testing
@testable import DepotStore

/// Store answers are read fail-closed: a date that cannot be read leaves the
/// object undated (never the epoch, which would make it older than every gc
/// grace period), and an entry without a key makes the answer unreadable.
@Suite struct UndatedObjectsTests {
    let limit = Date(timeIntervalSince1970: 1_796_000_000)

    func listing(_ contents: String) -> [UInt8] {
        Array("""
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult><Name>depot</Name>\(contents)<IsTruncated>false</IsTruncated></ListBucketResult>
        """.utf8)
    }

    func uploads(_ items: String) -> [UInt8] {
        Array("<ListMultipartUploadsResult><Bucket>depot</Bucket>\(items)<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>".utf8)
    }

    // A listed object with a readable LastModified keeps its date and can be old enough to collect.
    @Test func datedObjectIsDated() throws {
        let page = try S3Client.listPage(listing(
            "<Contents><Key>a</Key><LastModified>2026-11-29T00:00:00.000Z</LastModified><Size>3</Size></Contents>"))
        #expect(page.objects.count == 1)
        #expect(page.objects[0].lastModified == Date(timeIntervalSince1970: 1_795_910_400))
        #expect(page.objects[0].isOlder(than: limit))
        #expect(!page.objects[0].isOlder(than: Date(timeIntervalSince1970: 1_795_910_400)))
    }

    // Garbage, out-of-range or missing LastModified: undated, and never older than any limit.
    @Test func unreadableDatesLeaveObjectsUndated() throws {
        for date in ["<LastModified>yesterday</LastModified>", "<LastModified>2026-13-01T00:00:00Z</LastModified>",
                     "<LastModified>2026-11-29T00:00:00</LastModified>", "<LastModified></LastModified>", ""] {
            let page = try S3Client.listPage(listing("<Contents><Key>a</Key>\(date)<Size>3</Size></Contents>"))
            #expect(page.objects.count == 1, "\(date)")
            #expect(page.objects[0].lastModified == nil, "\(date)")
            #expect(!page.objects[0].isOlder(than: .distantFuture), "\(date)")
        }
    }

    // A listing entry without a key (or with an empty one) makes the whole answer unreadable.
    @Test func entryWithoutKeyIsRefused() {
        for entry in ["<Contents><Size>3</Size></Contents>", "<Contents><Key></Key><Size>3</Size></Contents>"] {
            #expect(throws: StoreError.unavailable("ListObjectsV2 answer has an entry without a key")) {
                try S3Client.listPage(listing(entry))
            }
        }
    }

    // A multipart upload with an unreadable Initiated is undated and never old enough to abort.
    @Test func undatedUploadIsNeverOldEnough() throws {
        let page = try S3Client.multipartUploadsPage(uploads(
            "<Upload><Key>a</Key><UploadId>u1</UploadId><Initiated>soon</Initiated></Upload>"
            + "<Upload><Key>b</Key><UploadId>u2</UploadId><Initiated>2026-11-29T00:00:00Z</Initiated></Upload>"))
        #expect(page.uploads.count == 2)
        #expect(page.uploads[0].initiated == nil)
        #expect(!page.uploads[0].wasInitiated(before: .distantFuture))
        #expect(page.uploads[1].wasInitiated(before: limit))
    }

    // An upload entry without a key or an upload id makes the answer unreadable.
    @Test func uploadWithoutKeyOrIDIsRefused() {
        for entry in ["<Upload><UploadId>u1</UploadId></Upload>", "<Upload><Key>a</Key></Upload>", "<Upload><Key>a</Key><UploadId></UploadId></Upload>"] {
            #expect(throws: StoreError.self) { try S3Client.multipartUploadsPage(uploads(entry)) }
        }
    }

    // HEAD: a readable Last-Modified is kept; an unreadable or missing one leaves the object undated.
    @Test func headAnswerDates() {
        func head(_ headers: [(String, String)]) -> StoreObjectInfo {
            S3Client.objectInfo(key: "k", headAnswer: HTTPAnswer(status: 200, headers: headers, body: []))
        }
        let dated = head([("last-modified", "Mon, 30 Nov 2026 00:53:20 GMT"), ("content-length", "5")])
        #expect(dated.lastModified == Date(timeIntervalSince1970: 1_796_000_000))
        #expect(dated.size == 5)
        for value in ["Mon, 30 Nov 2026 00:53:20", "Mon, 30 Foo 2026 00:53:20 GMT", "Mon, 31 Nov 2026 25:00:00 GMT", ""] {
            let info = head([("last-modified", value)])
            #expect(info.lastModified == nil, "\(value)")
            #expect(!info.isOlder(than: .distantFuture), "\(value)")
        }
        #expect(head([]).lastModified == nil)
    }
}
