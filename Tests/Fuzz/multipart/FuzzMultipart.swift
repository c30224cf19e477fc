// libFuzzer target: the streaming multipart/form-data parser (DepotHTTP).
//
// Input: the first line (up to the first LF) is a Content-Type header value,
// the rest is the body. The boundary comes from `multipartBoundary(fromContentType:)`
// (so the header parser is fuzzed too); when that refuses the header, the
// boundary "B" is used so the body is still parsed.
//
// Invariants beyond "no crash":
// - the body fed in one chunk, byte by byte, and in pseudo-random chunks
//   gives the same events and the same outcome (default and tiny limits);
// - every partData offset is contiguous with the previous one and the bytes
//   reported are exactly the body's bytes at that offset;
// - part names are non-empty; file names hold no '/', '\', NUL or other
//   controls except CR/LF/tab;
// - once failed, the parser fails again with the same error;
// - `scanMultipartForm` over the same body (from a memfd) agrees: its file
//   part lies inside the body and the bytes it streamed are those bytes.
@testable import DepotHTTP
import DepotTestSupport
import Foundation

private enum Event: Equatable {
    case begin(name: String, filename: String?, contentType: String?, headers: [String], dataOffset: Int64)
    case data([UInt8])
    case end
}

private struct Trace: Equatable {
    var events: [Event] = []
    var error: String?
    var complete = false
}

private struct Violation: Error, CustomStringConvertible {
    let description: String
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant violated: \(message())") }
}

private func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// Parses `body` cut into chunks ending at `cuts`, checking the per-event invariants.
private func run(_ body: [UInt8], boundary: String, limits: MultipartLimits, cuts: [Int]) -> Trace {
    var parser = MultipartParser(boundary: boundary, limits: limits)
    var trace = Trace()
    var open = false
    var nextOffset: Int64 = 0
    var start = 0
    var failure: MultipartError?
    for end in cuts + [body.count] where end >= start {
        let chunk = Array(body[start..<end])
        start = end
        do {
            try chunk.withUnsafeBytes { raw in
                try parser.feed(raw) { event in
                    switch event {
                    case .partBegin(let h):
                        check(!open, "partBegin inside a part")
                        open = true
                        check(!h.name.isEmpty, "empty part name")
                        if let f = h.filename {
                            check(!f.contains("/") && !f.contains("\\"), "filename keeps a path: \(f.debugDescription)")
                            check(!f.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\r" && $0 != "\n" && $0 != "\t") || $0.value == 0x7F },
                                  "control character in filename \(f.debugDescription)")
                        }
                        check(h.dataOffset >= 0 && h.dataOffset <= Int64(body.count), "dataOffset \(h.dataOffset) outside the body")
                        nextOffset = h.dataOffset
                        trace.events.append(.begin(name: h.name, filename: h.filename, contentType: h.contentType,
                                                   headers: h.rawHeaders.map { "\($0.0): \($0.1)" }, dataOffset: h.dataOffset))
                    case .partData(let buffer, let offset):
                        check(open, "partData outside a part")
                        check(buffer.count > 0, "empty partData")
                        check(offset == nextOffset, "partData offset \(offset) not contiguous (expected \(nextOffset))")
                        let o = Int(offset)
                        check(o >= 0 && o + buffer.count <= body.count, "partData outside the body")
                        check(body[o..<(o + buffer.count)].elementsEqual(buffer), "partData bytes differ from the body at \(o)")
                        nextOffset += Int64(buffer.count)
                        if case .data(let previous)? = trace.events.last {
                            trace.events[trace.events.count - 1] = .data(previous + Array(buffer))
                        } else {
                            trace.events.append(.data(Array(buffer)))
                        }
                    case .partEnd:
                        check(open, "partEnd outside a part")
                        open = false
                        trace.events.append(.end)
                    }
                }
            }
        } catch let e as MultipartError {
            failure = e
            break
        } catch {
            check(false, "unexpected error type \(error)")
        }
    }
    if failure == nil {
        do { try parser.finish() } catch let e as MultipartError { failure = e } catch { check(false, "finish threw \(error)") }
    }
    if let failure {
        trace.error = failure.description
        // A failed parser stays failed, with the same error.
        var again: MultipartError?
        do { try [UInt8](repeating: 0x41, count: 1).withUnsafeBytes { try parser.feed($0) { _ in } } } catch let e as MultipartError { again = e } catch {}
        check(again == failure, "failed parser answered \(String(describing: again)) after \(failure)")
    } else {
        trace.complete = parser.isComplete
        check(trace.complete, "finish() passed on an incomplete body")
        check(!open, "complete with a part still open")
    }
    return trace
}

/// Equal outcomes; when the parse failed, the data of the part that was open
/// at the failure may have been cut at a different point (limits are checked
/// per chunk), so only a prefix relation is required there.
private func sameOutcome(_ a: Trace, _ b: Trace) -> Bool {
    guard a.error == b.error, a.complete == b.complete else { return false }
    if a.error == nil { return a.events == b.events }
    func structural(_ t: Trace) -> [Event] {
        var e = t.events
        if case .data? = e.last { e.removeLast() }
        return e
    }
    func tail(_ t: Trace) -> [UInt8] {
        if case .data(let d)? = t.events.last { return d }
        return []
    }
    guard structural(a) == structural(b) else { return false }
    let (x, y) = (tail(a), tail(b))
    return x.count <= y.count ? y.starts(with: x) : x.starts(with: y)
}

// glibc has memfd_create, but the Glibc module does not export it.
@_silgen_name("memfd_create")
private func memfdCreate(_ name: UnsafePointer<CChar>, _ flags: UInt32) -> Int32

private func scanForm(_ body: [UInt8], boundary: String) {
    let fd = memfdCreate("fuzz-body", 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var written = 0
    while written < body.count {
        let n = body.withUnsafeBytes { write(fd, $0.baseAddress! + written, body.count - written) }
        guard n > 0 else { return }
        written += n
    }
    var streamed: [UInt8] = []
    do {
        let form = try scanMultipartForm(descriptor: fd, length: Int64(body.count), boundary: boundary) { streamed += $0 }
        if let file = form.file {
            check(file.offset >= 0 && file.length >= 0 && Int(file.offset + file.length) <= body.count, "file part outside the body")
            let range = Int(file.offset)..<Int(file.offset + file.length)
            check(body[range].elementsEqual(streamed), "streamed file bytes differ from the file part's range")
            check(file.head == Array(streamed.prefix(64)), "file head is not the first 64 bytes")
        } else {
            check(streamed.isEmpty, "file bytes streamed without a file part")
        }
        for (name, _) in form.fields { check(!name.isEmpty, "empty field name") }
    } catch is MultipartError {
    } catch {
        check(false, "scanMultipartForm threw \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let newline = input.firstIndex(of: 0x0A) ?? input.count
    let header = String(decoding: input[..<newline], as: UTF8.self)
    let body = newline < input.count ? Array(input[(newline + 1)...]) : []
    let boundary = (try? multipartBoundary(fromContentType: header)) ?? "B"
    if let b = try? multipartBoundary(fromContentType: header) {
        check(ContentTypeHeader.isValidBoundary(b), "accepted an invalid boundary \(b.debugDescription)")
    }

    var rng = SplitMix64(state: fnv1a(input))
    var randomCuts: [Int] = []
    var position = 0
    while position < body.count {
        position += 1 + Int(rng.next() % 97)
        if position < body.count { randomCuts.append(position) }
    }
    let everyByte = body.isEmpty ? [] : Array(1..<body.count)

    for limits in [MultipartLimits(), MultipartLimits(maxParts: 3, maxHeaderBytes: 120, maxFieldBytes: 8)] {
        let whole = run(body, boundary: boundary, limits: limits, cuts: [])
        let bytewise = run(body, boundary: boundary, limits: limits, cuts: everyByte)
        let random = run(body, boundary: boundary, limits: limits, cuts: randomCuts)
        check(sameOutcome(whole, bytewise), "one chunk vs byte by byte differ:\n\(whole)\n\(bytewise)")
        check(sameOutcome(whole, random), "one chunk vs random chunks differ:\n\(whole)\n\(random)")
    }
    scanForm(body, boundary: boundary)
    return 0
}
