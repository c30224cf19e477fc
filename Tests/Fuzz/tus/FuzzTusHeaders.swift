// libFuzzer target: the tus request headers (TusHeaders, DepotHTTP) as a
// client sends them. Input: the header's name byte (M: Upload-Metadata,
// C: Upload-Checksum, anything else: an integer header), then its value.
//
// Invariants beyond "no crash":
// - accepted metadata has unique printable-ASCII keys and values without
//   control characters, and encoding it back gives the same pairs;
// - an accepted checksum names sha1 or sha256 with a digest of its length;
// - an accepted integer is the value's digits, at most 18 of them.
import DepotHTTP
import Foundation

private func request(_ value: String) -> HTTPRequest {
    HTTPRequest(method: "PATCH", rawPath: "/", query: QueryParameters(""), headers: HTTPHeaders([("Upload-Offset", value)]), requestID: "f")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let kind = data[0]
    let value = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
    switch kind {
    case UInt8(ascii: "M"):
        guard let pairs = try? TusHeaders.metadata(value) else { return 0 }
        for (key, text) in pairs {
            precondition(!key.isEmpty && key.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f }, "bad key \(key)")
            precondition(!text.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }, "control character")
        }
        let again = pairs.map { $0.value.isEmpty ? $0.key : "\($0.key) \(Data($0.value.utf8).base64EncodedString())" }.joined(separator: ",")
        precondition((try? TusHeaders.metadata(again)) == pairs, "metadata does not round-trip")
    case UInt8(ascii: "C"):
        guard let parsed = try? TusHeaders.checksum(value) else { return 0 }
        precondition((parsed.algorithm == "sha1" && parsed.digest.count == 20) || (parsed.algorithm == "sha256" && parsed.digest.count == 32))
    default:
        guard let n = try? TusHeaders.integer(request(value), "upload-offset") else { return 0 }
        let digits = value.drop { $0 == "0" }
        precondition(n >= 0 && String(n) == (digits.isEmpty ? "0" : String(digits)), "\(n) is not \(value)")
        precondition(value.utf8.count <= 18)
    }
    return 0
}
