import DepotAuth
import DepotCrypto
import DepotEncoding
import DepotDomain
import DepotStore
import Foundation

public struct ConfigurationError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads Depot's INI-style configuration file (documented in
/// `docs/depot.conf.example`). Secrets are never values in this file, only
/// paths of files holding them.
public struct ConfigFile {
    public private(set) var sections: [String: [String: String]] = [:]

    public init(text: String) throws {
        var section = ""
        // `isNewline`, not "\n": a CRLF file's "\r\n" is one Character, so
        // splitting on "\n" would read the whole file as a single line.
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw ConfigurationError("line \(number + 1): unterminated section header") }
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                sections[section, default: [:]] = sections[section] ?? [:]
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { throw ConfigurationError("line \(number + 1): expected key = value") }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if let hash = value.range(of: " #") { value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces) }
            sections[section, default: [:]][key] = value
        }
    }

    public func string(_ section: String, _ key: String) -> String? {
        guard let v = sections[section]?[key], !v.isEmpty else { return nil }
        return v
    }

    public func int(_ section: String, _ key: String) throws -> Int64? {
        guard let v = string(section, key) else { return nil }
        guard let n = ByteSize.parse(v) else { throw ConfigurationError("[\(section)] \(key): '\(v)' is not a number") }
        return n
    }
}

extension ConfigFile {
    /// A path value: relative ones are relative to the configuration file's
    /// directory.
    public func path(_ section: String, _ key: String, configPath: String) -> String? {
        string(section, key).map { ConfigFile.resolve($0, configPath: configPath) }
    }

    static func resolve(_ value: String, configPath: String) -> String {
        if value.hasPrefix("/") { return value }
        let base = (configPath as NSString).deletingLastPathComponent
        return ((base.isEmpty ? FileManager.default.currentDirectoryPath : base) as NSString).appendingPathComponent(value)
    }

    /// Whether a secret is named `credential:NAME`: systemd's
    /// LoadCredential= copy in $CREDENTIALS_DIRECTORY (taken at start, so a
    /// reload does not see a changed file).
    public func isCredential(_ section: String, _ key: String) -> Bool {
        string(section, key)?.hasPrefix("credential:") ?? false
    }

    /// The file a secret is read from: a path, or for `credential:NAME` the
    /// file NAME in $CREDENTIALS_DIRECTORY (an error when that is not set).
    public func secretPath(_ section: String, _ key: String, configPath: String) throws -> String? {
        guard let value = string(section, key) else { return nil }
        guard value.hasPrefix("credential:") else { return ConfigFile.resolve(value, configPath: configPath) }
        let name = String(value.dropFirst("credential:".count))
        guard !name.isEmpty, !name.contains("/") else { throw ConfigurationError("[\(section)] \(key): '\(value)' names no credential") }
        guard let dir = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty else {
            throw ConfigurationError("[\(section)] \(key) is the systemd credential '\(name)': set CREDENTIALS_DIRECTORY to the directory holding the credential files (e.g. export CREDENTIALS_DIRECTORY=/etc/depot/secrets)")
        }
        return (dir as NSString).appendingPathComponent(name)
    }

    /// The plans: the two built-in ones, overridden or extended by
    /// `[plan.NAME]` sections (quota, max_file_size, max_files, categories).
    public func plans() throws -> [Plan] {
        var plans: [String: Plan] = [Plan.individual.name: .individual, Plan.organization.name: .organization]
        for (section, _) in sections where section.hasPrefix("plan.") {
            let name = String(section.dropFirst(5))
            var p = plans[name] ?? Plan(name: name, quotaBytes: 1 << 30, maxFileSizeBytes: 100 << 20, maxFiles: 10_000)
            if let v = try int(section, "quota") { p.quotaBytes = v }
            if let v = try int(section, "max_file_size") { p.maxFileSizeBytes = v }
            if let v = try int(section, "max_files") { p.maxFiles = v }
            if let v = string(section, "categories") {
                p.allowedCategories = try v.split(separator: ",").map {
                    let t = $0.trimmingCharacters(in: .whitespaces)
                    guard let c = FileCategory(rawValue: t) else { throw ConfigurationError("[\(section)] unknown category \(t)") }
                    return c
                }
            }
            plans[name] = p
        }
        return plans.values.sorted { $0.name < $1.name }
    }
}

/// `5368709120`, `5GiB`, `100MiB`, `64KiB` → bytes.
public enum ByteSize {
    public static func parse(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            // An overflowing size is not a number, not a crash.
            guard let n = Int64(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)) else { return nil }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        return Int64(text)
    }
}

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

public struct DepotConfiguration {
    /// Unix socket path, or `systemd` to take the socket from LISTEN_FDS.
    public var listen: String = "/run/depot/depot.sock"
    public var socketMode: Int = 0o660
    public var workers: Int = 0
    public var bodyTempDirectory: String?
    public var publicURL: String = "http://127.0.0.1:8080"
    public var databasePath: String = "/var/lib/depot/depot.sqlite3"
    public var busyTimeoutMilliseconds: Int32 = 5000
    public var store: StoreConfiguration
    /// nginx's internal location that proxies to the store.
    public var storeInternalLocation: String = "/_store/"
    public var multipartThreshold: Int64 = 32 << 20
    public var partSize: Int64 = 16 << 20
    public var auth: JWTVerifierConfiguration
    public var masterKeys: MasterKeys
    public var masterKeyFile: String
    public var plans: [Plan] = [.individual, .organization]
    public var individualPlan = "individual"
    public var organizationPlan = "organization"
    public var reservationTTLSeconds: Int64 = 6 * 3600
    public var orphanGraceSeconds: Int64 = 3600
    public var path: String

    public static let defaultPath = "/etc/depot/depot.conf"

    /// Reads the file at `path` (and the secret files it names).
    public static func load(path: String) throws -> DepotConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read configuration file \(path)")
        }
        let file = try ConfigFile(text: text)
        func resolve(_ p: String) -> String { ConfigFile.resolve(p, configPath: path) }
        func secret(_ section: String, _ key: String) throws -> String? {
            guard let p = try file.secretPath(section, key, configPath: path) else { return nil }
            guard let s = try? String(contentsOfFile: p, encoding: .utf8) else {
                throw ConfigurationError("[\(section)] \(key): cannot read \(file.string(section, key) ?? p)")
            }
            return s.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func required(_ section: String, _ key: String) throws -> String {
            guard let v = file.string(section, key) else { throw ConfigurationError("[\(section)] \(key) is required") }
            return v
        }

        // Store
        guard let accessKey = try secret("store", "access_key_file"), let secretKey = try secret("store", "secret_key_file") else {
            throw ConfigurationError("[store] access_key_file and secret_key_file are required")
        }
        var store = StoreConfiguration(endpoint: try required("store", "endpoint"), region: file.string("store", "region") ?? "us-east-1",
                                       bucket: file.string("store", "bucket") ?? "depot", accessKey: accessKey, secretKey: secretKey,
                                       caFile: file.string("store", "ca_file").map(resolve))
        if let t = try file.int("store", "connect_timeout_seconds") { store.connectTimeoutSeconds = Int(t) }
        if let t = try file.int("store", "request_timeout_seconds") { store.requestTimeoutSeconds = Int(t) }

        // Auth
        var keys: [JWTKey] = []
        let algorithms = (file.string("auth", "algorithms") ?? "HS256").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
        for a in algorithms {
            switch a {
            case "HS256":
                guard let s = try secret("auth", "hs256_secret_file") else { throw ConfigurationError("[auth] HS256 needs hs256_secret_file") }
                guard s.utf8.count >= 32 else { throw ConfigurationError("[auth] the HS256 secret must be at least 32 bytes") }
                keys.append(JWTKey(id: file.string("auth", "hs256_key_id"), algorithm: .hs256, hmacSecret: Array(s.utf8)))
            case "ES256", "RS256":
                let name = a == "ES256" ? "es256_public_key_file" : "rs256_public_key_file"
                guard let pem = try secret("auth", name) else { throw ConfigurationError("[auth] \(a) needs \(name)") }
                let key = try JWTKey(id: file.string("auth", a.lowercased() + "_key_id"), publicKeyPEM: pem)
                guard key.algorithm.rawValue == a else { throw ConfigurationError("[auth] \(name) does not hold a key for \(a)") }
                keys.append(key)
            default:
                throw ConfigurationError("[auth] unknown algorithm \(a) (HS256, ES256, RS256)")
            }
        }
        var auth = JWTVerifierConfiguration(keys: keys, issuer: file.string("auth", "issuer"), audience: file.string("auth", "audience"))
        if let l = try file.int("auth", "leeway_seconds") { auth.leewaySeconds = Int(l) }
        let problems = auth.problems()
        guard problems.isEmpty else { throw ConfigurationError("[auth] " + problems.joined(separator: "; ")) }

        // Encryption
        _ = try required("encryption", "master_key_file")
        guard let masterKeyFile = try file.secretPath("encryption", "master_key_file", configPath: path),
              let keyText = try? String(contentsOfFile: masterKeyFile, encoding: .utf8) else {
            throw ConfigurationError("[encryption] cannot read master_key_file")
        }

        var c = DepotConfiguration(store: store, auth: auth, masterKeys: try MasterKeys(text: keyText),
                                   masterKeyFile: masterKeyFile, path: path)
        if let v = file.string("server", "listen") { c.listen = v == "systemd" ? v : resolve(v) }
        if let v = file.string("server", "socket_mode") {
            guard let m = Int(v, radix: 8) else { throw ConfigurationError("[server] socket_mode must be octal") }
            c.socketMode = m
        }
        if let v = try file.int("server", "workers") { c.workers = Int(v) }
        c.bodyTempDirectory = file.string("server", "upload_temp_dir").map(resolve)
        if let v = file.string("server", "public_url") { c.publicURL = v.hasSuffix("/") ? String(v.dropLast()) : v }
        if let v = file.string("database", "path") { c.databasePath = resolve(v) }
        if let v = try file.int("database", "busy_timeout_ms") {
            guard let ms = Int32(exactly: v) else { throw ConfigurationError("[database] busy_timeout_ms is out of range") }
            c.busyTimeoutMilliseconds = ms
        }
        if let v = file.string("store", "internal_location") { c.storeInternalLocation = v }
        if let v = try file.int("store", "multipart_threshold") { c.multipartThreshold = v }
        if let v = try file.int("store", "part_size") {
            guard v >= 5 << 20 else { throw ConfigurationError("[store] part_size must be at least 5MiB") }
            c.partSize = v
        }
        if let v = try file.int("uploads", "reservation_ttl_seconds") { c.reservationTTLSeconds = v }
        if let v = try file.int("uploads", "orphan_grace_seconds") { c.orphanGraceSeconds = v }
        if let v = file.string("plans", "individual_plan") { c.individualPlan = v }
        if let v = file.string("plans", "organization_plan") { c.organizationPlan = v }

        c.plans = try file.plans()
        let names = Set(c.plans.map(\.name))
        guard names.contains(c.individualPlan), names.contains(c.organizationPlan) else {
            throw ConfigurationError("[plans] default plans must be defined")
        }
        return c
    }

}
