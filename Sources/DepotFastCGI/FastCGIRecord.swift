/// The FastCGI record layer (FastCGI 1.0, section 3.3): an 8-byte header,
/// then at most 65535 bytes of content and at most 255 of padding.
enum FastCGIRecordType: UInt8 {
    case beginRequest = 1, abortRequest, endRequest, params, stdin, stdout, stderr, data
    case getValues, getValuesResult, unknownType
}

struct FastCGIRecordHeader {
    static let size = 8
    static let maxContent = 65535

    var type: UInt8
    var requestID: UInt16
    var contentLength: Int
    var paddingLength: Int

    /// nil for any version but 1: that is not a FastCGI peer.
    init?(_ bytes: UnsafeRawPointer) {
        guard bytes.load(as: UInt8.self) == 1 else { return nil }
        type = bytes.load(fromByteOffset: 1, as: UInt8.self)
        requestID = UInt16(bytes.load(fromByteOffset: 2, as: UInt8.self)) << 8 | UInt16(bytes.load(fromByteOffset: 3, as: UInt8.self))
        contentLength = Int(bytes.load(fromByteOffset: 4, as: UInt8.self)) << 8 | Int(bytes.load(fromByteOffset: 5, as: UInt8.self))
        paddingLength = Int(bytes.load(fromByteOffset: 6, as: UInt8.self))
    }

    /// Appends a record header announcing `contentLength` bytes, unpadded.
    static func append(_ type: FastCGIRecordType, requestID: UInt16, contentLength: Int, to out: inout [UInt8]) {
        out.append(1)
        out.append(type.rawValue)
        out.append(UInt8(requestID >> 8))
        out.append(UInt8(requestID & 0xff))
        out.append(UInt8(contentLength >> 8))
        out.append(UInt8(contentLength & 0xff))
        out.append(0)
        out.append(0)
    }
}
