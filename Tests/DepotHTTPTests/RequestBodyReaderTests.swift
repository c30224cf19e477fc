import DepotHTTP
import Foundation
import Testing

@Suite struct RequestBodyReaderTests {
    /// A body stream handing out `chunk` bytes per read, pausing `pause` seconds before each.
    static func stream(total: Int, chunk: Int, pause: TimeInterval) -> RequestBody {
        var left = total
        return .stream(length: Int64(total)) { buffer in
            guard left > 0 else { return 0 }
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
            let n = min(chunk, left, buffer.count)
            for i in 0..<n { buffer[i] = 0x61 }
            left -= n
            return n
        }
    }

    static func drain(_ reader: RequestBodyReader) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        while try reader.read(into: buffer) > 0 {}
        return reader.bytesRead
    }

    @Test func aBodyTrickledBelowTheMinimumRateIsCutOffAfterAWindow() throws {
        // 1 byte every 0.2 s is 5 B/s against a floor of 100 B/s over 1 s.
        let reader = try RequestBodyReader(Self.stream(total: 1000, chunk: 1, pause: 0.2))
        reader.minimumRate = .init(bytesPerSecond: 100, windowSeconds: 1)
        #expect(throws: RequestBodyReader.Failure.tooSlow) { try Self.drain(reader) }
        #expect(reader.bytesRead < 20)
    }

    @Test func aBodyAboveTheMinimumRateIsReadWhole() throws {
        let reader = try RequestBodyReader(Self.stream(total: 64 * 1024, chunk: 1024, pause: 0.01))
        reader.minimumRate = .init(bytesPerSecond: 1024, windowSeconds: 1)
        #expect(try Self.drain(reader) == 64 * 1024)
    }

    @Test func withoutAMinimumRateASlowBodyIsReadWhole() throws {
        let reader = try RequestBodyReader(Self.stream(total: 8, chunk: 1, pause: 0.05))
        #expect(try Self.drain(reader) == 8)
    }

    @Test func aRequestWithoutABodyIsMissing() {
        #expect(throws: RequestBodyReader.Failure.missing) { try RequestBodyReader(.none) }
    }
}
