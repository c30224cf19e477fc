import Foundation

/// The upload form: its plain fields and at most one file part.
public struct MultipartForm {
    /// Parts without a filename, values decoded as UTF-8.
    public var fields: [String: String]
    public var file: FilePart?
}

/// Where the file part sits in the body file, for sending it straight from there.
public struct FilePart {
    /// Normalized as in `MultipartPartHeaders.filename` (path dropped; may be "").
    public let filename: String
    public let contentType: String?
    /// Absolute offset of the first content byte in the body.
    public let offset: Int64
    public let length: Int64
    /// The first up to 64 content bytes, for magic-byte sniffing.
    public let head: [UInt8]
}

/// Reads a `multipart/form-data` body as it streams in, by the upload
/// form's rules (see `scanMultipartForm`): the fields so far are readable at
/// any point, so a caller can act on the fields that precede the file part
/// while the file's bytes are still arriving.
public struct MultipartFormReader {
    private var parser: MultipartParser
    private var collector = FormCollector()

    public init(boundary: String, limits: MultipartLimits = .init()) {
        parser = MultipartParser(boundary: boundary, limits: limits)
    }

    /// The form as read up to some file bytes.
    public struct SoFar {
        /// The non-file fields completed before these bytes.
        public let fields: [String: String]
        /// The file part's headers.
        public let fileHeaders: MultipartPartHeaders
        /// The first up to 64 bytes of the file part.
        public let fileHead: [UInt8]
        /// File bytes up to and including these.
        public let fileLength: Int64
    }

    /// True once the closing boundary was read: the rest is epilogue.
    public var isComplete: Bool { parser.isComplete }

    /// True once the file part has ended (its closing boundary was read).
    public var hasReadFile: Bool { collector.file != nil }

    /// Feeds the next chunk; `onFileData` gets the file part's bytes in
    /// order, with the form as read so far.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, onFileData: (UnsafeRawBufferPointer, SoFar) throws -> Void) throws {
        try parser.feed(chunk) { event in try collector.handle(event, onFileData: onFileData) }
    }

    /// Call at end of body: `.truncated` if the closing boundary was not seen.
    public mutating func finish() throws -> MultipartForm {
        try parser.finish()
        return MultipartForm(fields: collector.fields, file: collector.file)
    }
}

/// Scans a whole body from a file descriptor (pread in 256 KiB chunks, from
/// offset 0 through `length`) and returns the non-file fields (values as
/// UTF-8 strings) and at most one file part's description. `onFileData`
/// receives the file part's bytes, in order (for hashing).
///
/// Rules: the part named `file` that has a filename is the file; a second such
/// part is `.malformed`. A part with a filename under any other name is
/// skipped. A part named `file` without a filename is an ordinary field
/// (so `form.file` stays nil). A field name sent twice, or a field value that
/// is not UTF-8, is `.malformed`. A file shorter than `length` is `.truncated`;
/// a read error is `MultipartReadError`. Reading stops at the closing boundary.
public func scanMultipartForm(
    descriptor: Int32, length: Int64, boundary: String, limits: MultipartLimits = .init(),
    onFileData: (UnsafeRawBufferPointer) -> Void
) throws -> MultipartForm {
    var reader = MultipartFormReader(boundary: boundary, limits: limits)
    let chunkSize = 256 * 1024
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
    defer { buffer.deallocate() }
    var offset: Int64 = 0
    while offset < length, !reader.isComplete {
        let want = Int(min(Int64(chunkSize), length - offset))
        let got = pread(descriptor, buffer.baseAddress, want, off_t(offset))
        if got < 0 {
            let code = errno
            if code == EINTR { continue }
            throw MultipartReadError(errno: code)
        }
        if got == 0 { throw MultipartError.truncated }
        try reader.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<got])) { bytes, _ in onFileData(bytes) }
        offset += Int64(got)
    }
    return try reader.finish()
}

private struct FormCollector {
    var fields: [String: String] = [:]
    var file: FilePart?

    private enum Current { case none, field, file }
    private var current = Current.none
    private var fieldName = ""
    private var fieldValue: [UInt8] = []
    private var fileHeaders: MultipartPartHeaders?
    private var fileLength: Int64 = 0
    private var fileHead: [UInt8] = []

    mutating func handle(_ event: MultipartEvent,
                         onFileData: (UnsafeRawBufferPointer, MultipartFormReader.SoFar) throws -> Void) throws {
        switch event {
        case .partBegin(let headers):
            if headers.filename != nil {
                // A file under another name is skipped: the upload then
                // reports the missing `file` part, which says what to fix.
                guard headers.name == "file" else {
                    current = .none
                    return
                }
                guard fileHeaders == nil else { throw MultipartError.malformed("more than one file part") }
                fileHeaders = headers
                current = .file
            } else {
                guard fields[headers.name] == nil else {
                    throw MultipartError.malformed("duplicate field \"\(headers.name)\"")
                }
                fieldName = headers.name
                fieldValue.removeAll(keepingCapacity: true)
                current = .field
            }
        case .partData(let bytes, _):
            switch current {
            case .none:
                break
            case .field:
                fieldValue.append(contentsOf: bytes)
            case .file:
                if fileHead.count < 64 { fileHead.append(contentsOf: bytes.prefix(64 - fileHead.count)) }
                fileLength += Int64(bytes.count)
                try onFileData(bytes, .init(fields: fields, fileHeaders: fileHeaders!, fileHead: fileHead, fileLength: fileLength))
            }
        case .partEnd:
            switch current {
            case .none:
                break
            case .field:
                guard let text = ContentTypeHeader.decodeUTF8(fieldValue) else {
                    throw MultipartError.malformed("field \"\(fieldName)\" is not UTF-8")
                }
                fields[fieldName] = text
            case .file:
                if let headers = fileHeaders, let filename = headers.filename {
                    file = FilePart(
                        filename: filename, contentType: headers.contentType,
                        offset: headers.dataOffset, length: fileLength, head: fileHead)
                }
            }
            current = .none
        }
    }
}
