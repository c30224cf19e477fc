import DepotCrypto
import DepotEncoding
import Foundation
@testable import DepotStore
#if canImport(Glibc)
import Glibc
#endif

/// Deterministic pseudo-random bytes (xorshift64*), so failures are reproducible.
func testBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15  // distinct non-zero start for every seed
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        var word = state &* 2_685_821_657_736_338_717
        for _ in 0..<8 where i < count {
            out[i] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            i += 1
        }
    }
    return out
}

func md5Hex(_ bytes: [UInt8]) -> String { Hex.encode(DigestHasher.hash(.md5, bytes)) }

func randomSSEKey() -> SSECustomerKey {
    SSECustomerKey(key: (0..<32).map { _ in UInt8.random(in: 0...255) })
}

/// A temp file holding `bytes`, opened read-only; `close()` removes it.
final class TempFile {
    let path: String
    let descriptor: Int32

    init(_ bytes: [UInt8]) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("depot-store-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown)
        }
        descriptor = open(path, O_RDONLY)
    }

    func close() {
        _ = Glibc.close(descriptor)
        unlink(path)
    }
}

struct FetchResult {
    var status: Int
    var body: [UInt8]
    /// Lowercased header names.
    var headers: [String: String]
}

/// Fetches a URL with the curl command-line tool, sending exactly `headers`.
func curlFetch(_ url: String, method: String = "GET", headers: [(String, String)], caFile: String? = nil) throws -> FetchResult {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("depot-fetch-\(UUID().uuidString)").path
    defer {
        unlink(base + ".body")
        unlink(base + ".head")
    }
    var arguments = ["-s", "-o", base + ".body", "-D", base + ".head", "-w", "%{http_code}", "--max-time", "30"]
    if method == "HEAD" { arguments.append("-I") } else if method != "GET" { arguments += ["-X", method] }
    if let caFile { arguments += ["--cacert", caFile] }
    for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
    arguments.append(url)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let status = Int(String(decoding: output, as: UTF8.self)) ?? 0
    let body = (try? Data(contentsOf: URL(fileURLWithPath: base + ".body"))).map { [UInt8]($0) } ?? []
    var parsed: [String: String] = [:]
    let headText = (try? String(contentsOfFile: base + ".head", encoding: .utf8)) ?? ""
    for line in headText.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }) {
        guard let colon = line.firstIndex(of: ":") else { continue }
        parsed[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return FetchResult(status: status, body: method == "HEAD" ? [] : body, headers: parsed)
}

/// A self-signed certificate for 127.0.0.1 made with the openssl tool, or nil without it.
func makeSelfSignedCertificate(in directory: URL) -> (cert: String, key: String)? {
    guard access("/usr/bin/openssl", X_OK) == 0 else { return nil }
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let cert = directory.appendingPathComponent("cert.pem").path
    let key = directory.appendingPathComponent("key.pem").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    guard (try? process.run()) != nil else { return nil }
    process.waitUntilExit()
    return process.terminationStatus == 0 ? (cert, key) : nil
}
