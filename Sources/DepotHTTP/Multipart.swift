import DepotEncoding
import Foundation

// Streaming multipart/form-data (RFC 7578 over RFC 2046).
//
// nginx writes an upload's request body to a temp file; the worker reads that
// file once, front to back, through `MultipartParser`. The parser is push-based:
// it takes chunks of any size and reports, in order, the start of each part
// (its parsed headers), the part's content as it passes (with the absolute
// byte offset of every piece inside the whole body) and the end of the part.
// The upload route hashes the file part's bytes as they pass and later sends
// the file part to the object store straight from the temp file, using the
// recorded offset range. No part's content is ever held by the parser.
//
// Finding delimiters. The delimiter is CR LF "--" boundary, and a valid
// boundary contains no CR, so a delimiter can only start at a CR and a failed
// match never hides the start of another one (the KMP failure function of
// such a pattern is all zeros). `memchr` jumps to the next CR, the match is
// extended byte by byte, and on a mismatch the search resumes at the
// mismatching byte: each input byte is looked at a bounded number of times,
// whatever the chunking. The match state (how many delimiter bytes the input
// read so far ends with) survives between chunks. Bytes that might be the
// start of a delimiter are held back until the match succeeds or fails; they
// are always a prefix of the delimiter, so when they turn out to be content
// they are reported from the delimiter itself (the lookbehind is at most
// boundary length + 4 bytes and is never copied). The first delimiter may
// open the body without a CR LF: the matcher starts as if a CR LF had just
// been read.
//
// Memory: the parser keeps the delimiter, the current part's header block
// (at most `maxHeaderBytes`) and a few counters. Content of non-file parts is
// counted against `maxFieldBytes` before it is handed out.

/// Limits enforced while the body streams through `MultipartParser`.
public struct MultipartLimits: Sendable, Equatable {
    /// Parts allowed in one body; the next part's start throws `.tooManyParts`.
    public var maxParts = 32
    /// Bytes allowed in one part's header block, counted from after the
    /// boundary line through the blank line that ends it.
    public var maxHeaderBytes = 8192
    /// Content bytes allowed in one part without a `filename` (a form field).
    public var maxFieldBytes = 65536

    public init() {}

    public init(maxParts: Int, maxHeaderBytes: Int, maxFieldBytes: Int) {
        self.maxParts = maxParts
        self.maxHeaderBytes = maxHeaderBytes
        self.maxFieldBytes = maxFieldBytes
    }
}

/// What is wrong with a multipart body. Every case is the client's fault (`400`).
public enum MultipartError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingBoundary
    case invalidBoundary
    case malformed(String)
    case tooManyParts
    case headerTooLarge
    case fieldTooLarge
    case truncated

    public var description: String {
        switch self {
        case .missingBoundary: return "multipart boundary missing"
        case .invalidBoundary: return "multipart boundary invalid"
        case .malformed(let why): return "malformed multipart body: \(why)"
        case .tooManyParts: return "too many multipart parts"
        case .headerTooLarge: return "multipart part header too large"
        case .fieldTooLarge: return "multipart form field too large"
        case .truncated: return "multipart body truncated"
        }
    }
}

/// Reading the body file failed (`scanMultipartForm`): a server-side error,
/// unlike `MultipartError`.
public struct MultipartReadError: Error, Equatable, Sendable {
    public let errno: Int32
}

/// The parsed headers of one part.
public struct MultipartPartHeaders {
    /// The `name` parameter of `Content-Disposition: form-data`, never empty.
    public let name: String
    /// The file name, or nil for a plain field. `filename*` (RFC 8187, UTF-8 or
    /// ISO-8859-1) wins over `filename`. Normalized: any path up to the last
    /// `/` or `\` is dropped (old browsers send full client paths), so this can
    /// be `""` (browsers send `filename=""` for an empty file input). `filename`
    /// has the HTML form escapes `%22`, `%0D`, `%0A` decoded (nothing else).
    /// May contain CR, LF or tab; never NUL or other control characters.
    public let filename: String?
    /// The part's `Content-Type` value, whitespace-trimmed, parameters kept.
    public let contentType: String?
    /// Every header line as sent (name as written, value trimmed), in order.
    public let rawHeaders: [(String, String)]
    /// Absolute offset in the body of the part's first content byte.
    public let dataOffset: Int64
}

public enum MultipartEvent {
    case partBegin(MultipartPartHeaders)
    /// Content bytes of the current part; `offset` is the absolute position of
    /// the first of them in the body. The buffer is valid only during the call.
    /// A part gets zero or more of these (none for empty content); they are
    /// contiguous, never empty, and split wherever the chunking happens to.
    case partData(UnsafeRawBufferPointer, offset: Int64)
    case partEnd
}

/// Push parser for a multipart/form-data body; see the notes at the top of
/// this file. After it throws once, every later call throws again.
public struct MultipartParser {
    private enum State {
        case preamble, body
        case afterDelimiter, closeDash, padding, delimiterLF
        case headers
        case epilogue
    }

    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A

    private let limits: MultipartLimits
    /// CR LF "--" boundary.
    private let delimiter: [UInt8]
    private let setupError: MultipartError?
    private var failure: MultipartError?

    private var state = State.preamble
    /// Delimiter bytes the input read so far ends with. Starts at 2: a virtual
    /// CR LF lets the first boundary open the body.
    private var matched = 2
    /// Body bytes consumed by earlier `feed` calls.
    private var consumed: Int64 = 0
    private var headerBlock: [UInt8] = []
    private var partCount = 0
    private var partIsField = false
    private var fieldBytes = 0

    public init(boundary: String, limits: MultipartLimits = .init()) {
        self.limits = limits
        setupError = ContentTypeHeader.isValidBoundary(boundary) ? nil : .invalidBoundary
        delimiter = Array("\r\n--".utf8) + Array(boundary.utf8)
    }

    /// True once the closing delimiter has been read; the rest is epilogue.
    public var isComplete: Bool { failure == nil && state == .epilogue }

    /// Body bytes fed so far.
    public var bytesConsumed: Int64 { consumed }

    /// Feeds the next chunk of the body. `handler` gets events in order;
    /// partData buffers are valid only during the call. Offsets are absolute
    /// positions in the whole body of the bytes reported. Errors thrown by
    /// `handler` propagate unchanged (and leave the parser failed).
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ handler: (MultipartEvent) throws -> Void) throws {
        if let error = setupError ?? failure { throw error }
        do {
            try consume(chunk, handler)
        } catch let error as MultipartError {
            failure = error
            throw error
        } catch {
            failure = .malformed("event handler failed: \(error)")
            throw error
        }
        consumed += Int64(chunk.count)
    }

    /// Call at end of body: throws .truncated if the closing boundary was not seen.
    public mutating func finish() throws {
        if let error = setupError ?? failure { throw error }
        guard state == .epilogue else {
            failure = .truncated
            throw MultipartError.truncated
        }
    }

    // MARK: - Chunk processing

    private mutating func consume(_ chunk: UnsafeRawBufferPointer, _ handler: (MultipartEvent) throws -> Void) throws {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        let n = chunk.count
        var i = 0
        while i < n {
            switch state {
            case .preamble, .body:
                guard let end = try scan(chunk, base: base, from: i, handler) else {
                    i = n
                    break
                }
                if state == .body { try handler(.partEnd) }
                state = .afterDelimiter
                i = end
            case .afterDelimiter:
                switch chunk[i] {
                case 0x2D: state = .closeDash
                case 0x20, 0x09: state = .padding
                case Self.cr: state = .delimiterLF
                default: throw MultipartError.malformed("unexpected byte after boundary")
                }
                i += 1
            case .closeDash:
                guard chunk[i] == 0x2D else { throw MultipartError.malformed("unexpected byte after boundary") }
                state = .epilogue
                i += 1
            case .padding:
                switch chunk[i] {
                case 0x20, 0x09: break
                case Self.cr: state = .delimiterLF
                default: throw MultipartError.malformed("unexpected byte after boundary")
                }
                i += 1
            case .delimiterLF:
                guard chunk[i] == Self.lf else { throw MultipartError.malformed("boundary line not ended by CRLF") }
                i += 1
                partCount += 1
                guard partCount <= limits.maxParts else { throw MultipartError.tooManyParts }
                headerBlock.removeAll(keepingCapacity: true)
                state = .headers
            case .headers:
                i = try consumeHeaders(chunk, from: i, handler)
            case .epilogue:
                i = n
            }
        }
    }

    /// Looks for the delimiter from `start`, reporting content (in `.body`)
    /// that can no longer be part of a delimiter. Returns the index just past
    /// the delimiter, or nil when the chunk ended first.
    private mutating func scan(
        _ chunk: UnsafeRawBufferPointer, base: UnsafeRawPointer, from start: Int,
        _ handler: (MultipartEvent) throws -> Void
    ) throws -> Int? {
        let n = chunk.count
        let m = delimiter.count
        // Bytes before `start` that are held back as a possible delimiter
        // start; nonzero only when `start` is 0 (they came from earlier chunks).
        let carry = matched
        var k = matched
        var j = start
        while j < n {
            if k == 0 {
                // A delimiter can only start at a CR: jump to the next one.
                guard let hit = memchr(base + j, Int32(Self.cr), n - j) else {
                    j = n
                    break
                }
                j = base.distance(to: UnsafeRawPointer(hit)) + 1
                k = 1
            }
            // Extend the match as far as this chunk allows.
            while j < n, k < m, chunk[j] == delimiter[k] {
                j += 1
                k += 1
            }
            if k == m {
                try emit(chunk, from: start - carry, to: j - m, carry: carry, handler)
                matched = 0
                return j
            }
            if j == n { break } // a partial match carries over to the next chunk
            // Mismatch at j. The delimiter holds no CR after its first byte, so
            // no match can start inside the matched bytes; byte j itself may be a CR.
            k = 0
        }
        try emit(chunk, from: start - carry, to: n - k, carry: carry, handler)
        matched = k
        return nil
    }

    /// Reports content bytes `lower..<upper`, indices relative to the chunk.
    /// Negative indices are the `carry` held-back bytes of earlier chunks,
    /// which equal `delimiter[0..<carry]`.
    private mutating func emit(
        _ chunk: UnsafeRawBufferPointer, from lower: Int, to upper: Int, carry: Int,
        _ handler: (MultipartEvent) throws -> Void
    ) throws {
        guard state == .body, lower < upper else { return }
        if partIsField {
            fieldBytes += upper - lower
            guard fieldBytes <= limits.maxFieldBytes else { throw MultipartError.fieldTooLarge }
        }
        if lower < 0 {
            let high = min(upper, 0)
            let offset = consumed + Int64(lower)
            try delimiter.withUnsafeBytes { d in
                try handler(.partData(UnsafeRawBufferPointer(rebasing: d[(carry + lower)..<(carry + high)]), offset: offset))
            }
        }
        let low = max(lower, 0)
        if low < upper {
            try handler(.partData(UnsafeRawBufferPointer(rebasing: chunk[low..<upper]), offset: consumed + Int64(low)))
        }
    }

    /// Collects the header block byte by byte (it is small and bounded);
    /// on the blank line, parses it and starts the part's content.
    private mutating func consumeHeaders(
        _ chunk: UnsafeRawBufferPointer, from start: Int,
        _ handler: (MultipartEvent) throws -> Void
    ) throws -> Int {
        let n = chunk.count
        var j = start
        while j < n {
            let b = chunk[j]
            j += 1
            guard headerBlock.count < limits.maxHeaderBytes else { throw MultipartError.headerTooLarge }
            headerBlock.append(b)
            guard b == Self.lf else { continue }
            let c = headerBlock.count
            guard c >= 2, headerBlock[c - 2] == Self.cr else {
                throw MultipartError.malformed("bare LF in part headers")
            }
            let ended = c == 2 || (c >= 4 && headerBlock[c - 3] == Self.lf && headerBlock[c - 4] == Self.cr)
            guard ended else { continue }
            let lines = headerBlock[0..<max(0, c - 4)]
            let headers = try Self.parsePartHeaders(lines, dataOffset: consumed + Int64(j))
            partIsField = headers.filename == nil
            fieldBytes = 0
            matched = 0
            state = .body
            try handler(.partBegin(headers))
            return j
        }
        return j
    }

    // MARK: - Part headers

    /// Parses a header block: CRLF-separated lines, no trailing blank line.
    static func parsePartHeaders(_ block: ArraySlice<UInt8>, dataOffset: Int64) throws -> MultipartPartHeaders {
        guard ContentTypeHeader.decodeUTF8(block) != nil else { throw MultipartError.malformed("part headers are not UTF-8") }
        var raw: [(String, String)] = []
        var disposition: ContentTypeHeader.Value?
        var contentType: String?

        var lineStart = block.startIndex
        while lineStart < block.endIndex {
            var lineEnd = lineStart
            while lineEnd < block.endIndex, block[lineEnd] != cr { lineEnd += 1 }
            let line = block[lineStart..<lineEnd]
            // Lines end in CR LF; a CR anywhere else is malformed.
            if lineEnd < block.endIndex {
                guard lineEnd + 1 < block.endIndex, block[lineEnd + 1] == lf else {
                    throw MultipartError.malformed("bare CR in part headers")
                }
                lineStart = lineEnd + 2
            } else {
                lineStart = lineEnd
            }

            guard let first = line.first else { throw MultipartError.malformed("empty header line") }
            guard first != 0x20, first != 0x09 else { throw MultipartError.malformed("folded header line") }
            guard let colon = line.firstIndex(of: 0x3A) else { throw MultipartError.malformed("header line without colon") }
            let nameBytes = line[line.startIndex..<colon]
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(ContentTypeHeader.isTokenByte) else {
                throw MultipartError.malformed("invalid header name")
            }
            var valueBytes = line[(colon + 1)...]
            while let b = valueBytes.first, b == 0x20 || b == 0x09 { valueBytes = valueBytes.dropFirst() }
            while let b = valueBytes.last, b == 0x20 || b == 0x09 { valueBytes = valueBytes.dropLast() }
            guard !valueBytes.contains(where: ContentTypeHeader.isControlByte) else {
                throw MultipartError.malformed("control character in header value")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let value = String(decoding: valueBytes, as: UTF8.self)
            raw.append((name, value))

            switch name.lowercased() {
            case "content-disposition":
                guard disposition == nil else { throw MultipartError.malformed("duplicate Content-Disposition") }
                guard let parsed = ContentTypeHeader.Value.parse(valueBytes) else {
                    throw MultipartError.malformed("invalid Content-Disposition")
                }
                disposition = parsed
            case "content-type":
                guard contentType == nil else { throw MultipartError.malformed("duplicate Content-Type") }
                contentType = value
            default:
                break
            }
        }

        guard let disposition else { throw MultipartError.malformed("part without Content-Disposition") }
        guard disposition.value.lowercased() == "form-data" else {
            throw MultipartError.malformed("Content-Disposition is not form-data")
        }
        guard let name = disposition.parameter("name")?.value, !name.isEmpty else {
            throw MultipartError.malformed("part without name")
        }
        var filename: String?
        if let extended = disposition.parameter("filename*") {
            filename = try decodeExtendedValue(extended.value)
        } else if let plain = disposition.parameter("filename") {
            guard !plain.value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw MultipartError.malformed("control character in filename")
            }
            filename = unescapeFormFilename(plain.value)
        }
        if let f = filename {
            // Names may hold CR/LF or tabs (they were escaped on the wire);
            // NUL and other controls have no business in a file name.
            guard !f.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\r" && $0 != "\n" && $0 != "\t") || $0.value == 0x7F }) else {
                throw MultipartError.malformed("control character in filename")
            }
            filename = baseName(f)
        }
        return MultipartPartHeaders(
            name: name, filename: filename, contentType: contentType, rawHeaders: raw, dataOffset: dataOffset)
    }

    /// RFC 8187 ext-value: `charset'[language]'pct-encoded`; UTF-8 or ISO-8859-1.
    static func decodeExtendedValue(_ text: String) throws -> String {
        let bytes = Array(text.utf8)
        guard let q1 = bytes.firstIndex(of: 0x27),
              let q2 = bytes[(q1 + 1)...].firstIndex(of: 0x27)
        else { throw MultipartError.malformed("invalid filename*") }
        let charset = String(decoding: bytes[..<q1], as: UTF8.self).lowercased()
        guard let decoded = PercentEncoding.decodeBytes(bytes[(q2 + 1)...]) else {
            throw MultipartError.malformed("invalid percent-encoding in filename*")
        }
        switch charset {
        case "utf-8":
            guard let s = ContentTypeHeader.decodeUTF8(decoded) else { throw MultipartError.malformed("filename* is not UTF-8") }
            return s
        case "iso-8859-1":
            var s = ""
            s.unicodeScalars.append(contentsOf: decoded.map { Unicode.Scalar($0) })
            return s
        default:
            throw MultipartError.malformed("unsupported charset in filename*")
        }
    }

    /// Browsers and most HTTP libraries follow the HTML form encoding, which
    /// writes `"`, CR and LF in a quoted filename as `%22`, `%0D`, `%0A`;
    /// only those three are decoded (a literal `%41` stays as it is).
    static func unescapeFormFilename(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var out = ""
        var rest = Substring(text)
        while let percent = rest.firstIndex(of: "%") {
            out += rest[..<percent]
            let code = rest[percent...].prefix(3).uppercased()
            switch code {
            case "%22": out += "\""
            case "%0D": out += "\r"
            case "%0A": out += "\n"
            default: out += "%"; rest = rest[rest.index(after: percent)...]; continue
            }
            rest = rest[rest.index(percent, offsetBy: 3)...]
        }
        return out + rest
    }

    /// The part of a client-side path after its last `/` or `\`.
    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(where: { $0 == "/" || $0 == "\\" }) else { return path }
        return String(path[path.index(after: slash)...])
    }
}
