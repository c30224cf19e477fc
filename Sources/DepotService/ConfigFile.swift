import DepotDomain
import Foundation

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
            if let v = try int(section, "member_quota") {
                guard v > 0 else { throw ConfigurationError("[\(section)] member_quota must be more than 0") }
                p.memberQuotaBytes = v
            }
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
