import DepotAuth
import DepotDomain
import DepotEncoding
import DepotMetadata
import DepotStore
import Foundation

/// Everything a worker, the supervisor and depotctl read from depot.conf and
/// the secret files it names (`docs/depot.conf.example` explains each key).
public struct DepotConfiguration {
    /// Unix socket path, or `systemd` to take the socket from LISTEN_FDS.
    public var listen: String = "/run/depot/depot.sock"
    public var socketMode: Int = 0o660
    public var workers: Int = 0
    /// The upload pool's socket (`[uploads] listen`): uploads run on workers
    /// of their own, so a long transfer never makes a short request wait.
    public var uploadListen: String = "/run/depot/upload.sock"
    /// Upload workers: how many uploads stream to the store at once (nginx
    /// lets a few more wait for a worker, then answers 429).
    public var uploadWorkers: Int = 2
    /// An upload slower than this (bytes per second, judged per window) is
    /// dropped; 0: never. nginx cuts off one that stops altogether.
    public var uploadMinimumBytesPerSecond: Int64 = 1024
    public var uploadRateWindowSeconds: Int = 30
    public var publicURL: String = "http://127.0.0.1:8080"
    public var database: DatabaseLocation = .sqlite(path: "/var/lib/depot/depot.sqlite3")
    public var busyTimeoutMilliseconds: Int32 = 5000
    public var store: StoreConfiguration
    /// nginx's internal location that proxies to the store.
    public var storeInternalLocation: String = "/_store/"
    public var multipartThreshold: Int64 = 32 << 20
    public var partSize: Int64 = 16 << 20
    public var auth: JWTVerifierConfiguration
    public var masterKeys: MasterKeys
    public var masterKeyFile: String
    /// The secret of `[encryption] link_secret_file`, which signs download
    /// links; nil: the one derived from the first master key (older setups).
    public var linkSecret: [UInt8]?
    public var plans: [Plan] = [.individual, .organization]
    public var individualPlan = "individual"
    public var organizationPlan = "organization"
    public var reservationTTLSeconds: Int64 = 6 * 3600
    /// How long a resumable upload may take from its creation (tus `Upload-Expires`).
    public var resumableExpirySeconds: Int64 = 24 * 3600
    /// Origins (scheme://host[:port]) whose pages may call the tus routes (CORS).
    public var corsOrigins: Set<String> = []
    public var orphanGraceSeconds: Int64 = 3600
    /// `[events]` and `[webhook.NAME]`: endpoints and delivery settings.
    public var events = EventsConfiguration()
    /// `[antivirus]`: nil, no scanning.
    public var antivirus: AntivirusConfiguration?
    public var path: String

    /// What signs download links: the link secret file's, else one derived
    /// from the first master key, so a configuration written before the
    /// setting existed still loads (that one cannot be rotated alone).
    public var linkSigningSecret: [UInt8] { linkSecret ?? masterKeys.linkSigningSecret }

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
        if let text = try secret("encryption", "link_secret_file") {
            c.linkSecret = try Self.linkSecret(text)
        }
        if let v = file.string("server", "listen") { c.listen = v == "systemd" ? v : resolve(v) }
        if let v = file.string("server", "socket_mode") {
            guard let m = Int(v, radix: 8) else { throw ConfigurationError("[server] socket_mode must be octal") }
            c.socketMode = m
        }
        if let v = try file.int("server", "workers") { c.workers = Int(v) }
        if let v = file.string("uploads", "listen") { c.uploadListen = v == "systemd" ? v : resolve(v) }
        if let v = try file.int("uploads", "workers") {
            guard (1...256).contains(v) else { throw ConfigurationError("[uploads] workers must be from 1 to 256") }
            c.uploadWorkers = Int(v)
        }
        if let v = try file.int("uploads", "min_bytes_per_second") {
            guard v >= 0 else { throw ConfigurationError("[uploads] min_bytes_per_second must not be negative") }
            c.uploadMinimumBytesPerSecond = v
        }
        if let v = try file.int("uploads", "slow_client_window_seconds") {
            guard (1...3600).contains(v) else { throw ConfigurationError("[uploads] slow_client_window_seconds must be from 1 to 3600") }
            c.uploadRateWindowSeconds = Int(v)
        }
        // `[server] upload_temp_dir` (the spool of the buffered uploads) is no
        // longer read: uploads stream; older files that set it still load.
        if let v = file.string("server", "public_url") { c.publicURL = v.hasSuffix("/") ? String(v.dropLast()) : v }
        c.database = try file.databaseLocation(configPath: path)
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
        if let v = file.string("uploads", "cors_origins") {
            c.corsOrigins = Set(v.split(separator: " ").map(String.init))
            for origin in c.corsOrigins where !(origin.hasPrefix("https://") || origin.hasPrefix("http://")) || origin.hasSuffix("/") {
                throw ConfigurationError("[uploads] cors_origins: \(origin) is not an origin (scheme://host[:port], no path)")
            }
        }
        if let v = try file.int("uploads", "resumable_expiry_seconds") {
            guard v >= 1 else { throw ConfigurationError("[uploads] resumable_expiry_seconds must be at least 1") }
            c.resumableExpirySeconds = v
        }
        if let v = file.string("plans", "individual_plan") { c.individualPlan = v }
        if let v = file.string("plans", "organization_plan") { c.organizationPlan = v }

        c.events = try EventsConfiguration.load(file, configPath: path)
        c.antivirus = try AntivirusConfiguration.load(file, configPath: path)

        c.plans = try file.plans()
        let names = Set(c.plans.map(\.name))
        guard names.contains(c.individualPlan), names.contains(c.organizationPlan) else {
            throw ConfigurationError("[plans] default plans must be defined")
        }
        return c
    }

    /// The link secret file's text: at least 32 bytes, hex (as `depotctl
    /// init` and `keys rotate-links` write it).
    static func linkSecret(_ text: String) throws -> [UInt8] {
        guard let bytes = Hex.decode(text), bytes.count >= 32 else {
            throw ConfigurationError("[encryption] link_secret_file must hold at least 32 bytes as hex (depotctl keys rotate-links writes one)")
        }
        return bytes
    }
}
