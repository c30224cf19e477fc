import DepotAntivirus

/// `[antivirus]` in depot.conf: the clamd every upload is scanned with
/// before it is committed. Absent (no `clamd_socket`): no scanning.
public struct AntivirusConfiguration: Equatable {
    /// clamd's `LocalSocket`.
    public var clamdSocket: String
    /// Let files through unscanned while clamd is unreachable or failing
    /// (counted in `depot_antivirus_let_through_total`); false: refuse them
    /// with 503 until it is back.
    public var failOpen = false
    public var connectTimeoutSeconds: Int64 = 2
    /// How long clamd may take to read a chunk and to give its verdict.
    public var replyTimeoutSeconds: Int64 = 120
    /// clamd's `StreamMaxLength` (its default 25 MiB, at most 4 GiB): a
    /// larger file can never be scanned and is refused with 413
    /// `file_too_large_to_scan`, whatever `fail_open` says.
    public var streamMaxLength: Int64 = 25 << 20

    public init(clamdSocket: String) { self.clamdSocket = clamdSocket }

    /// clamd's own limit: StreamMaxLength is a 32-bit count.
    static let largestStream: Int64 = 4 << 30

    var scanner: ClamdClient {
        ClamdClient(socketPath: clamdSocket, connectTimeoutSeconds: Double(connectTimeoutSeconds),
                    replyTimeoutSeconds: Double(replyTimeoutSeconds), streamMaxLength: streamMaxLength)
    }

    /// Reads `[antivirus]`; nil without `clamd_socket`.
    static func load(_ file: ConfigFile, configPath: String) throws -> AntivirusConfiguration? {
        guard let socket = file.path("antivirus", "clamd_socket", configPath: configPath) else { return nil }
        var c = AntivirusConfiguration(clamdSocket: socket)
        if let v = file.string("antivirus", "fail_open") {
            switch v.lowercased() {
            case "true", "yes", "on", "1": c.failOpen = true
            case "false", "no", "off", "0": c.failOpen = false
            default: throw ConfigurationError("[antivirus] fail_open must be true or false")
            }
        }
        if let v = try file.int("antivirus", "connect_timeout_seconds") {
            guard (1...600).contains(v) else { throw ConfigurationError("[antivirus] connect_timeout_seconds must be from 1 to 600") }
            c.connectTimeoutSeconds = v
        }
        if let v = try file.int("antivirus", "reply_timeout_seconds") {
            guard (1...3600).contains(v) else { throw ConfigurationError("[antivirus] reply_timeout_seconds must be from 1 to 3600") }
            c.replyTimeoutSeconds = v
        }
        if let v = try file.int("antivirus", "stream_max_length") {
            guard (1...largestStream).contains(v) else {
                throw ConfigurationError("[antivirus] stream_max_length must be from 1 byte to 4GiB (clamd's StreamMaxLength)")
            }
            c.streamMaxLength = v
        }
        return c
    }
}
