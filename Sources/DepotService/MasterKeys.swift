import DepotCrypto
import DepotEncoding
import DepotStore
import Foundation

/// Master keys: one `id base64-or-hex-32-bytes` per line; the last line is the
/// newest and encrypts new uploads, older lines keep old files readable.
public struct MasterKeys {
    public let keys: [(id: String, key: [UInt8])]

    public init(text: String) throws {
        var keys: [(String, [UInt8])] = []
        for line in text.split(whereSeparator: \.isNewline) {   // CRLF too, as in ConfigFile
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            let parts = t.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else { throw ConfigurationError("master key file: each line is 'id key'") }
            let material = Hex.decode(String(parts[1])) ?? Data(base64Encoded: String(parts[1])).map(Array.init)
            guard let material, material.count == 32 else { throw ConfigurationError("master key '\(parts[0])' must be 32 bytes (hex or base64)") }
            keys.append((String(parts[0]), material))
        }
        guard !keys.isEmpty else { throw ConfigurationError("master key file holds no key") }
        guard Set(keys.map(\.0)).count == keys.count else { throw ConfigurationError("master key ids must be unique") }
        self.keys = keys
    }

    public var current: (id: String, key: [UInt8]) { keys[keys.count - 1] }

    public func key(id: String) -> [UInt8]? { keys.first { $0.id == id }?.key }

    /// The SSE-C key of one object: HKDF-SHA256(master, object key).
    public func objectKey(keyID: String, objectKey: String) -> SSECustomerKey? {
        guard let master = key(id: keyID) else { return nil }
        return SSECustomerKey(key: HKDF.sha256(key: master, salt: Array("depot-sse-c-v1".utf8), info: Array(objectKey.utf8), length: 32))
    }

    /// Secret for Depot's signed download links. Derived from the first key,
    /// which rotation never removes, so links survive a rotation.
    public var linkSigningSecret: [UInt8] {
        HKDF.sha256(key: keys[0].key, salt: Array("depot-links-v1".utf8), info: [], length: 32)
    }

    public static func generateLine(id: String) -> String {
        "\(id) \(Hex.encode(SecureRandom.bytes(32)))"
    }
}
