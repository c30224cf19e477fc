import Foundation

/// A temp directory holding a configuration file and the secret files it names.
final class ConfigDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("depot-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try write("access.key", "AKIDEXAMPLE\n")
        try write("secret.key", "  store-secret-value-0123456789  \n")
        try write("jwt.key", Self.jwtSecret + "\n")
        try write("master.keys", "# rotated yearly\n\nk1 \(Self.hexKey1)\n")
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    static let jwtSecret = "jwt-secret-0123456789abcdef0123456789"
    static let hexKey1 = String(repeating: "ab", count: 32)
    static let hexKey2 = String(repeating: "cd", count: 32)

    /// The smallest configuration that loads: a store endpoint and the secret files.
    static let minimal = """
        [store]
        endpoint = http://127.0.0.1:8333
        access_key_file = access.key
        secret_key_file = secret.key

        [auth]
        hs256_secret_file = jwt.key

        [encryption]
        master_key_file = master.keys
        """

    func write(_ name: String, _ text: String) throws {
        try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Writes `depot.conf` and returns its path.
    func config(_ text: String) throws -> String {
        try write("depot.conf", text)
        return url.appendingPathComponent("depot.conf").path
    }
}

extension Error {
    /// What an operator would read.
    var text: String { String(describing: self) }
}
