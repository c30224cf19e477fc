import DepotMetadata
import Foundation

extension ConfigFile {
    /// `[database]`: `url = postgresql://USER@HOST:PORT/DB` with the password
    /// in `password_file` (a path, or `credential:NAME`), else the SQLite
    /// file at `path`. A password written into the URL is refused: the
    /// configuration file is readable by more than the service.
    public func databaseLocation(configPath: String) throws -> DatabaseLocation {
        guard let url = string("database", "url") else {
            return .sqlite(path: path("database", "path", configPath: configPath) ?? "/var/lib/depot/depot.sqlite3")
        }
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            throw ConfigurationError("[database] url must be a postgresql:// URL")
        }
        let authority = url[url.range(of: "//")!.upperBound...].prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
            throw ConfigurationError("[database] url holds a password: remove it and name a password_file (or credential:NAME) instead")
        }
        if url.range(of: "password=", options: .caseInsensitive) != nil {
            throw ConfigurationError("[database] url holds a password: remove it and name a password_file (or credential:NAME) instead")
        }
        var password: String?
        if let file = try secretPath("database", "password_file", configPath: configPath) {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError("[database] password_file: cannot read \(string("database", "password_file") ?? file)")
            }
            password = text.trimmingCharacters(in: .newlines)
        }
        return .postgresql(url: url, password: password)
    }
}
