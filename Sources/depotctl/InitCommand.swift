import ArgumentParser
import DepotCrypto
import DepotDomain
import DepotEncoding
import DepotMetadata
import DepotService
import Foundation

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the database and generate the master key file, the link secret and the HS256 secret.",
        discussion: """
            Reads the configuration for paths only, so it works before any secret exists, and creates:
              [database] path               the database (directory 0750), migrated
                                            and seeded with the configured plans
              [encryption] master_key_file  one line `k1 <64 hex>`, mode 0600
              [encryption] link_secret_file 64 hex characters, mode 0600 (signs
                                            download links; when not configured
                                            they are signed with a secret derived
                                            from the first master key)
              [auth] hs256_secret_file      64 hex characters, mode 0600

            Safe to re-run: an existing database is only migrated and seeded (plans that exist are left as they are), and existing key files are never overwritten unless --force is given. The database itself is never replaced.

            With --force the old key file is kept beside the new one as NAME.replaced-TIMESTAMP. Files encrypted under the old master key cannot be read until its line is put back, so use `depotctl keys rotate` on a live deployment instead (and `depotctl keys rotate-links` for the link secret).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Replace an existing master key file and HS256 secret (the old files are kept aside).")
    var force = false

    @Option(help: ArgumentHelp("Give the database directory, database and key files to this owner (USER or USER:GROUP), e.g. the service user.",
                               valueName: "user[:group]"))
    var owner: String?

    func validate() throws {
        if let owner { _ = try Self.resolveOwner(owner) }
    }

    /// Creates or migrates the schema and adds the configured plans.
    private static func prepare(_ location: DatabaseLocation, settings: Settings, plans: [Plan], existed: Bool,
                                created: () -> Void) throws {
        let metadata = try MetadataStores.open(location, busyTimeoutMilliseconds: try settings.busyTimeout())
        created()
        let (from, to) = try metadata.migrate()
        let before = Set(try metadata.plans().map(\.name))
        try metadata.seedPlans(plans)
        let added = plans.map(\.name).filter { !before.contains($0) }
        let what = existed && from > 0 ? (from == to ? "exists, schema \(to) is current" : "exists, migrated schema \(from) → \(to)")
                                        : "created, schema \(to)"
        print("database \(location): \(what)")
        print("plans: " + (added.isEmpty ? "all \(plans.count) configured plans already present" : "added \(added.joined(separator: ", "))"))
    }

    func run() throws {
        let settings = try Settings.load(global)
        let plans = try settings.configuredPlans()
        let ownerIDs = try owner.map(Self.resolveOwner)
        // Resolve every path before creating anything.
        let masterKeyFile = try settings.masterKeyFile()
        let hs256SecretFile = try settings.hs256SecretFile()
        let linkSecretFile = try settings.linkSecretFile()

        // Database
        let location = try settings.databaseLocation()
        if case .sqlite(let dbPath) = location {
            let dbDirectory = (dbPath as NSString).deletingLastPathComponent
            let madeDirectory = try makeDirectories(dbDirectory, mode: 0o750)
            let existed = fileExists(dbPath)
            try Self.prepare(location, settings: settings, plans: plans, existed: existed) { if !existed { chmod(dbPath, 0o640) } }
            if let ids = ownerIDs {
                var paths = [dbPath, dbPath + "-wal", dbPath + "-shm"].filter(fileExists)
                // The directory too, when it is the database's own (SQLite creates
                // its -wal and -shm files there); never a shared one like /var/lib.
                let databaseFiles = Set([dbPath, dbPath + "-wal", dbPath + "-shm", dbPath + "-journal"].map { ($0 as NSString).lastPathComponent })
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: dbDirectory)) ?? []
                if madeDirectory || entries.allSatisfy(databaseFiles.contains) { paths.insert(dbDirectory, at: 0) }
                for p in paths { try Self.chown(p, ids) }
            }
        } else {
            // The server's database and role are the administrator's (docs/OPERATIONS.md).
            try Self.prepare(location, settings: settings, plans: plans, existed: true) {}
        }

        // Secrets
        if let keyFile = masterKeyFile {
            try writeSecret(keyFile, label: "master key file", contents: MasterKeys.generateLine(id: "k1") + "\n", owner: ownerIDs,
                            note: "key k1")
        } else {
            print("master key file: not configured ([encryption] master_key_file); the server cannot start without one")
        }
        if let linkFile = linkSecretFile {
            try writeSecret(linkFile, label: "link secret", contents: Hex.encode(SecureRandom.bytes(32)) + "\n", owner: ownerIDs,
                            note: "64 hex characters")
        } else {
            print("link secret: not configured ([encryption] link_secret_file); download links are signed with a secret derived from the first master key")
        }
        if let secretFile = hs256SecretFile {
            try writeSecret(secretFile, label: "HS256 secret", contents: Hex.encode(SecureRandom.bytes(32)) + "\n", owner: ownerIDs,
                            note: "64 hex characters")
        } else {
            print("HS256 secret: not configured ([auth] hs256_secret_file), skipped")
        }
    }

    private func writeSecret(_ path: String, label: String, contents: String, owner: (uid_t, gid_t)?, note: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if try makeDirectories(directory, mode: 0o700), let owner { try Self.chown(directory, owner) }
        if fileExists(path) {
            guard force else {
                var line = "\(label) \(path): exists, kept (--force replaces it)"
                if let mode = fileMode(path), mode & 0o077 != 0 {
                    line += String(format: "; WARNING: mode %o lets others read it, run chmod 600", mode)
                }
                print(line)
                return
            }
            let aside = path + ".replaced-" + String(now)
            guard rename(path, aside) == 0 else {
                throw CtlFailure.failed("cannot move \(path) aside: \(String(cString: strerror(errno)))")
            }
            try writeFileAtomically(path, contents: contents, mode: 0o600, owner: owner)
            print("\(label) \(path): replaced (\(note), mode 0600); the previous one is \(aside)")
            return
        }
        try writeFileAtomically(path, contents: contents, mode: 0o600, owner: owner)
        print("\(label) \(path): created (\(note), mode 0600)")
    }

    static func resolveOwner(_ text: String) throws -> (uid_t, gid_t) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let userName = parts.first, !userName.isEmpty, let user = getpwnam(userName) else {
            throw ValidationError("--owner: no such user '\(text)'")
        }
        var gid = user.pointee.pw_gid
        if parts.count == 2 {
            guard let group = getgrnam(parts[1]) else { throw ValidationError("--owner: no such group '\(parts[1])'") }
            gid = group.pointee.gr_gid
        }
        return (user.pointee.pw_uid, gid)
    }

    static func chown(_ path: String, _ ids: (uid_t, gid_t)) throws {
        guard Glibc.chown(path, ids.0, ids.1) == 0 else {
            throw CtlFailure.failed("cannot change the owner of \(path): \(String(cString: strerror(errno)))")
        }
    }
}

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (idempotent).",
        discussion: """
            Brings the database to the schema this binary expects, in one transaction, and does nothing when it is current. A database written by a newer Depot (a schema version above this binary's) is refused with exit status 1 and left untouched: install that release, or restore a backup taken before the upgrade. The depot service also migrates when it starts; run this first to see the result before starting a new release.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let settings = try Settings.load(global)
        let metadata = try settings.openDatabase(requireCurrentSchema: false)
        let (from, to) = try metadata.migrate()
        if json {
            printJSON(["from": .int(Int64(from)), "to": .int(Int64(to)), "changed": .bool(from != to)])
        } else if from == to {
            print("schema version \(to) is current; nothing to do")
        } else {
            print("migrated schema version \(from) → \(to)")
        }
    }
}
