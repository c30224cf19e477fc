import DepotHTTP
import Foundation

/// Small JSON request bodies (link and share requests): read whole, bounded,
/// and judged as one JSON object.
enum JSONRequestBody {
    /// The request's JSON object (an empty body is an empty object); a body
    /// over `maxBytes` is 413 before more of it is read.
    static func object(_ request: HTTPRequest, maxBytes: Int) throws -> [String: Any] {
        guard case .stream = request.body else { return [:] }
        let reader = try RequestBodyReader(request.body)
        var bytes = [UInt8]()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let n = try reader.read(into: buffer)
            if n == 0 { break }
            bytes += buffer[0..<n]
            guard bytes.count <= maxBytes else { throw APIError(413, "payload_too_large", "The request body is too large.") }
        }
        if bytes.isEmpty { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw APIError.badRequest("The body must be a JSON object.", code: "invalid_json")
        }
        return object
    }

    /// Whether a parsed value was a JSON true or false: Foundation reads
    /// booleans and numbers alike as NSNumber; only booleans have C type char.
    static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }
}
