import ArgumentParser
import DepotCrypto
import DepotEncoding
import DepotDomain
import DepotHTTP
import DepotMetadata
import DepotService
import Foundation

// MARK: Exit codes and failures

/// Exit codes, documented in `depotctl --help`.
enum Exit {
    static let ok: Int32 = 0
    /// The command ran and failed, or found problems (fsck, gc).
    static let failure: Int32 = 1
    /// Bad arguments, or a configuration file that cannot be read or is invalid.
    static let usage: Int32 = 2
}

/// A failure with a message for the admin and the exit code it maps to.
struct CtlFailure: Error, CustomStringConvertible {
    let message: String
    let code: Int32

    static func failed(_ message: String) -> CtlFailure { CtlFailure(message: message, code: Exit.failure) }
    static func usage(_ message: String) -> CtlFailure { CtlFailure(message: message, code: Exit.usage) }

    var description: String { message }
}

/// Thrown after the command printed its own report and only the exit status is left to set.
struct ProblemsFound: Error {}

// MARK: Global options

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (default: $DEPOT_CONFIG, else \(DepotConfiguration.defaultPath)).",
                                            valueName: "path"))
    var config: String?

    var configPath: String {
        if let config { return config }
        if let env = ProcessInfo.processInfo.environment["DEPOT_CONFIG"], !env.isEmpty { return env }
        return DepotConfiguration.defaultPath
    }
}

// MARK: Configuration access

/// The configuration file read for paths only: what the database-only
/// commands need, without reading (or requiring) any secret.
struct Settings {
    let configPath: String
    let file: ConfigFile

    static func load(_ options: GlobalOptions) throws -> Settings {
        let path = options.configPath
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CtlFailure.usage("cannot read configuration file \(path) (use --config PATH or set DEPOT_CONFIG)")
        }
        do {
            return Settings(configPath: path, file: try ConfigFile(text: text))
        } catch {
            throw CtlFailure.usage("\(path): \(error)")
        }
    }

    /// A secret's file, as the server maps it (`credential:NAME` through
    /// $CREDENTIALS_DIRECTORY; outside the service, point that variable at
    /// the directory holding the source files).
    func secretPath(section: String, key: String) throws -> String? {
        do { return try file.secretPath(section, key, configPath: configPath) } catch let e as ConfigurationError {
            throw CtlFailure.usage(e.message)
        }
    }

    func isCredential(section: String, key: String) -> Bool { file.isCredential(section, key) }

    /// The database the configuration names (a PostgreSQL password read from its file).
    func databaseLocation() throws -> DatabaseLocation {
        do { return try file.databaseLocation(configPath: configPath) } catch let e as ConfigurationError {
            throw CtlFailure.usage("\(configPath): \(e.message)")
        }
    }

    func busyTimeout() throws -> Int32 {
        do { return Int32(clamping: try file.int("database", "busy_timeout_ms") ?? 5000) } catch { throw CtlFailure.usage("\(configPath): \(error)") }
    }

    func masterKeyFile() throws -> String? { try secretPath(section: "encryption", key: "master_key_file") }
    func hs256SecretFile() throws -> String? { try secretPath(section: "auth", key: "hs256_secret_file") }
    func linkSecretFile() throws -> String? { try secretPath(section: "encryption", key: "link_secret_file") }

    /// Opens the existing database. `current` also requires the schema this binary expects.
    func openDatabase(requireCurrentSchema current: Bool = true) throws -> MetadataStore {
        let location = try databaseLocation()
        try requireExisting(location)
        let metadata = try MetadataStores.open(location, busyTimeoutMilliseconds: try busyTimeout())
        if current { try metadata.requireCurrentSchema() }
        // Changes made here (file rm, user delete) queue their events too.
        do { metadata.eventEndpoints = try file.eventEndpoints() } catch { throw CtlFailure.usage("\(configPath): \(error)") }
        return metadata
    }

    /// The plans the configuration defines (the server's rules).
    func configuredPlans() throws -> [Plan] {
        do { return try file.plans() } catch { throw CtlFailure.usage("\(configPath): \(error)") }
    }
}

/// The full configuration (secrets included), for commands that talk to the
/// store or sign tokens. Invalid configuration is a usage error (exit 2).
func loadFullConfiguration(_ options: GlobalOptions) throws -> DepotConfiguration {
    do {
        return try DepotConfiguration.load(path: options.configPath)
    } catch let e as ConfigurationError {
        throw CtlFailure.usage("\(options.configPath): \(e.message)")
    }
}

// MARK: Parsing helpers

func parseSize(_ text: String, _ name: String) throws -> Int64 {
    guard let v = ByteSize.parse(text.trimmingCharacters(in: .whitespaces)), v >= 0 else {
        throw ValidationError("\(name): '\(text)' is not a size (bytes, or a number with KiB, MiB, GiB or TiB)")
    }
    return v
}

func parseCategories(_ text: String) throws -> [FileCategory] {
    let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !names.isEmpty else { throw ValidationError("--categories needs at least one category") }
    var out: [FileCategory] = []
    for n in names {
        guard let c = FileCategory(rawValue: n) else {
            throw ValidationError("unknown category '\(n)' (\(FileCategory.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if !out.contains(c) { out.append(c) }
    }
    return out
}

func parseUUID(_ text: String, _ what: String) throws -> String {
    let lower = text.lowercased()
    guard UUIDs.isValid(lower) else { throw ValidationError("\(what) must be a UUID, got '\(text)'") }
    return lower
}

// MARK: Output

func printJSON(_ value: JSONValue) {
    print(value.serialized())
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// `5GiB` when exact in a binary unit, else the byte count.
func exactSize(_ bytes: Int64) -> String {
    for (suffix, factor) in [("TiB", Int64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
    where bytes >= factor && bytes % factor == 0 {
        return "\(bytes / factor)\(suffix)"
    }
    return String(bytes)
}

/// `1.5 GiB` for people; JSON output always carries exact bytes.
func humanSize(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while abs(value) >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}

func rfc3339(_ seconds: Int64) -> String { Timestamps.rfc3339(seconds) }

func duration(_ seconds: Int64) -> String {
    if seconds < 120 { return "\(seconds)s" }
    if seconds < 7200 { return "\(seconds / 60)m" }
    if seconds < 172_800 { return "\(seconds / 3600)h" }
    return "\(seconds / 86400)d"
}

/// Left-aligned columns separated by two spaces.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}

var now: Int64 { Int64(Date().timeIntervalSince1970) }

// MARK: Files

/// Writes `contents` to `path` atomically: a temp file in the same
/// directory with `mode`, fsync, rename over `path`, fsync the directory.
/// `owner` (uid, gid) is applied to the temp file before the rename.
func writeFileAtomically(_ path: String, contents: String, mode: mode_t = 0o600, owner: (uid_t, gid_t)? = nil) throws {
    let directory = (path as NSString).deletingLastPathComponent
    let temp = (directory as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).tmp-\(Hex.encode(SecureRandom.bytes(4)))")
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard fd >= 0 else { throw CtlFailure.failed("cannot create \(temp): \(String(cString: strerror(errno)))") }
    var ok = false
    defer {
        if !ok { unlink(temp) }
    }
    let bytes = Array(contents.utf8)
    var written = 0
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            let e = String(cString: strerror(errno))
            close(fd)
            throw CtlFailure.failed("cannot write \(temp): \(e)")
        }
        written += n
    }
    fchmod(fd, mode)
    if let owner, fchown(fd, owner.0, owner.1) != 0 {
        let e = String(cString: strerror(errno))
        close(fd)
        throw CtlFailure.failed("cannot set the owner of \(temp): \(e)")
    }
    guard fsync(fd) == 0 else {
        let e = String(cString: strerror(errno))
        close(fd)
        throw CtlFailure.failed("cannot sync \(temp): \(e)")
    }
    close(fd)
    guard rename(temp, path) == 0 else { throw CtlFailure.failed("cannot rename \(temp) to \(path): \(String(cString: strerror(errno)))") }
    ok = true
    let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
        fsync(dfd)
        close(dfd)
    }
}

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}

func fileOwner(_ path: String) -> (uid_t, gid_t)? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return (info.st_uid, info.st_gid)
}

/// `mkdir -p` with `mode` for the directories it creates.
func makeDirectories(_ path: String, mode: mode_t) throws -> Bool {
    if fileExists(path) { return false }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty && parent != path { _ = try makeDirectories(parent, mode: 0o755) }
    guard mkdir(path, mode) == 0 || errno == EEXIST else {
        throw CtlFailure.failed("cannot create directory \(path): \(String(cString: strerror(errno)))")
    }
    chmod(path, mode)
    return true
}

/// A SQLite file is never created by a command that expects one (a typo in
/// the path would otherwise give an empty database); a PostgreSQL database
/// is the administrator's to create, and its schema is checked on open.
func requireExisting(_ location: DatabaseLocation) throws {
    if case .sqlite(let path) = location, !FileManager.default.fileExists(atPath: path) {
        throw CtlFailure.failed("no database at \(path) (run `depotctl init` first)")
    }
}
