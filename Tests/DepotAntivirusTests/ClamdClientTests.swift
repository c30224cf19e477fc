@testable import DepotAntivirus
import Foundation
import Testing

@Suite struct ClamdClientTests {
    static let eicar = Array(#"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#.utf8)

    private func scan(_ clamd: FakeClamd, _ bytes: [UInt8], replyTimeout: Double = 5, limit: Int64? = nil) throws -> ScanVerdict {
        let client = ClamdClient(socketPath: clamd.path, connectTimeoutSeconds: 1, replyTimeoutSeconds: replyTimeout, streamMaxLength: limit)
        let scan = try client.openScan()
        try bytes.withUnsafeBytes { try scan.feed($0) }
        return try scan.verdict()
    }

    // A clean file: the whole stream reaches clamd byte for byte; "stream: OK" is clean.
    @Test func cleanFile() throws {
        let clamd = try #require(FakeClamd(.answer("stream: OK")))
        defer { clamd.stop() }
        let file = Array("a,b\n1,2\n".utf8)
        #expect(try scan(clamd, file) == .clean)
        #expect(clamd.commands == ["zINSTREAM"])
        #expect(clamd.streams == [file])
    }

    // "stream: <name> FOUND" is an infected verdict naming the signature.
    @Test func infectedFile() throws {
        let clamd = try #require(FakeClamd(.answer("stream: Eicar-Test-Signature FOUND")))
        defer { clamd.stop() }
        #expect(try scan(clamd, Self.eicar) == .infected(signature: "Eicar-Test-Signature"))
    }

    // Bytes fed in several calls go out as chunks of at most 1 MiB, in order.
    @Test func largeFileIsChunked() throws {
        let clamd = try #require(FakeClamd(.answer("stream: OK")))
        defer { clamd.stop() }
        let client = ClamdClient(socketPath: clamd.path)
        let scan = try client.openScan()
        var all: [UInt8] = []
        for i in 0..<3 {
            let piece = [UInt8](repeating: UInt8(i), count: 1_500_000)
            all += piece
            try piece.withUnsafeBytes { try scan.feed($0) }
        }
        #expect(try scan.verdict() == .clean)
        #expect(clamd.streams == [all])
        #expect(clamd.chunkSizes.allSatisfy { $0 <= 1 << 20 })
    }

    // clamd's "size limit exceeded" error means the file can never be scanned.
    @Test func sizeLimitErrorIsTooLarge() throws {
        let clamd = try #require(FakeClamd(.answer("INSTREAM size limit exceeded. ERROR")))
        defer { clamd.stop() }
        #expect(throws: ScanFailure.tooLarge) { try scan(clamd, [1, 2, 3]) }
    }

    // clamd cutting the stream off mid-file (past its StreamMaxLength) is too large, not a vague failure.
    @Test func cutOffMidStreamIsTooLarge() throws {
        let clamd = try #require(FakeClamd(.cutOff(after: 1 << 20, reply: "INSTREAM size limit exceeded. ERROR")))
        defer { clamd.stop() }
        #expect(throws: ScanFailure.tooLarge) { try scan(clamd, [UInt8](repeating: 7, count: 8 << 20)) }
    }

    // The client's own limit refuses a stream before clamd sees it all.
    @Test func clientLimitRefusesEarly() throws {
        let clamd = try #require(FakeClamd(.answer("stream: OK")))
        defer { clamd.stop() }
        #expect(throws: ScanFailure.tooLarge) { try scan(clamd, [UInt8](repeating: 1, count: 11), limit: 10) }
    }

    // Any other ERROR is the scanner failing: unavailable.
    @Test func otherErrorIsUnavailable() throws {
        let clamd = try #require(FakeClamd(.answer("stream: Can't allocate memory ERROR")))
        defer { clamd.stop() }
        #expect { try scan(clamd, [1]) } throws: { error in
            guard case ScanFailure.unavailable(let why) = error else { return false }
            return why.contains("Can't allocate memory")
        }
    }

    // A connection closed without an answer is unavailable.
    @Test func closedConnectionIsUnavailable() throws {
        let clamd = try #require(FakeClamd(.hangUp))
        defer { clamd.stop() }
        #expect { try scan(clamd, [UInt8](repeating: 1, count: 1000)) } throws: { error in
            if case ScanFailure.unavailable = error { return true }
            return false
        }
    }

    // A verdict slower than the reply timeout is unavailable, after about that timeout.
    @Test func slowReplyTimesOut() throws {
        let clamd = try #require(FakeClamd(.answerAfter(seconds: 3)))
        defer { clamd.stop() }
        let start = Date()
        #expect { try scan(clamd, [1, 2, 3], replyTimeout: 1) } throws: { error in
            guard case ScanFailure.unavailable(let why) = error else { return false }
            return why.contains("did not answer")
        }
        #expect(Date().timeIntervalSince(start) < 2.5)
    }

    // No clamd listening: connecting fails at once, unavailable.
    @Test func missingSocketIsUnavailable() throws {
        let client = ClamdClient(socketPath: NSTemporaryDirectory() + "no-clamd-\(UUID().uuidString.prefix(8)).sock")
        #expect { try client.openScan() } throws: { error in
            guard case ScanFailure.unavailable(let why) = error else { return false }
            return why.contains("cannot connect")
        }
    }

    // A failed connect closes its socket once. A second close of the same
    // number (from deinit) would close whatever another thread opened in
    // between: here, descriptors that a second thread opens and checks.
    @Test func failedConnectsNeverCloseAnotherThreadsDescriptor() throws {
        let client = ClamdClient(socketPath: NSTemporaryDirectory() + "no-clamd-\(UUID().uuidString.prefix(8)).sock")
        let watcher = DescriptorWatcher()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { watcher.run(); done.signal() }
        for _ in 0..<20_000 { _ = try? client.openScan() }
        watcher.stop()
        done.wait()
        #expect(watcher.lost == 0)
    }

    // PING answers PONG when clamd is up, false when it is not.
    @Test func ping() throws {
        let clamd = try #require(FakeClamd(.answer("stream: OK")))
        defer { clamd.stop() }
        #expect(ClamdClient(socketPath: clamd.path).ping())
        #expect(!ClamdClient(socketPath: clamd.path + ".gone").ping())
    }

    // Replies are read as clamd writes them.
    @Test func replyParsing() throws {
        #expect(try ClamdStream.verdict(fromReply: "stream: OK") == .clean)
        #expect(try ClamdStream.verdict(fromReply: "stream: Win.Test.EICAR_HDB-1 FOUND") == .infected(signature: "Win.Test.EICAR_HDB-1"))
        #expect(throws: ScanFailure.tooLarge) { try ClamdStream.verdict(fromReply: "INSTREAM size limit exceeded. ERROR") }
        #expect(ClamdStream.lengthPrefix(0x0102_0304) == [1, 2, 3, 4])
    }
}

/// Opens /dev/null over and over and checks each descriptor is still open
/// before closing it itself; counts the ones someone else closed.
private final class DescriptorWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private(set) var lost = 0

    func stop() { lock.withLock { stopped = true } }

    func run() {
        while !lock.withLock({ stopped }) {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            sched_yield()
            if fcntl(fd, F_GETFD) < 0 { lock.withLock { lost += 1 } } else { close(fd) }
        }
    }
}
