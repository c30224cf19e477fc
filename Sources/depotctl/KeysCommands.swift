import ArgumentParser
import DepotCrypto
import DepotEncoding
import DepotHTTP
import DepotMetadata
import DepotService
import Foundation


// MARK: keys

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Rotate the master key or the link-signing secret, and see which keys protect how many files.",
        discussion: """
            The master key file ([encryption] master_key_file) holds one `ID HEX` line per key. The last line encrypts new uploads; the others keep older files readable, and each file record stores the id of the key that encrypted it. Never remove a line while `depotctl keys status` shows files under it, and back the file up after each rotation.

            The link secret file ([encryption] link_secret_file) signs download links only; `keys rotate-links` replaces it and every link dies at once, while files and their keys stay as they are.
            """,
        subcommands: [KeysRotate.self, KeysRotateLinks.self, KeysStatus.self]
    )
}

/// Reads and parses the master key file named by the configuration.
func readMasterKeys(_ settings: Settings) throws -> (path: String, text: String, keys: MasterKeys) {
    guard let path = try settings.masterKeyFile() else { throw CtlFailure.usage("[encryption] master_key_file is not set in \(settings.configPath)") }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw CtlFailure.failed("cannot read the master key file \(path) (run `depotctl init`, or run as its owner)")
    }
    do {
        return (path, text, try MasterKeys(text: text))
    } catch let e as ConfigurationError {
        throw CtlFailure.failed("\(path): \(e.message)")
    }
}

struct KeysRotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Append a new master key; new uploads use it once the workers reload.",
        discussion: """
            Appends `kN <64 hex>` (N one more than the highest kN id) to the master key file atomically: a temp file with mode 0600 and the file's owner is written, then renamed over it.

            Running workers keep using the previous key until they reload: `systemctl reload depot`, i.e. SIGHUP to the supervisor. Files already stored stay readable with their old key.

            With systemd credentials (master_key_file = credential:NAME, LoadCredential=) set CREDENTIALS_DIRECTORY to the directory of the source files (e.g. /etc/depot/secrets) so depotctl rotates the source file, then `systemctl restart depot`: the service reads a copy made at start, which a reload does not refresh.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let settings = try Settings.load(global)
        // Lock the key file so two rotations cannot both append kN; the
        // rename swaps the inode, so re-check that the locked one is current.
        var attempts = 0
        while true {
            attempts += 1
            guard let path = try settings.masterKeyFile() else { throw CtlFailure.usage("[encryption] master_key_file is not set in \(settings.configPath)") }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CtlFailure.failed("cannot open the master key file \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            guard flock(fd, LOCK_EX) == 0 else { throw CtlFailure.failed("cannot lock \(path): \(String(cString: strerror(errno)))") }
            var locked = stat(), current = stat()
            guard fstat(fd, &locked) == 0, stat(path, &current) == 0 else { throw CtlFailure.failed("cannot stat \(path)") }
            if locked.st_ino != current.st_ino || locked.st_dev != current.st_dev {
                if attempts < 20 { continue }
                throw CtlFailure.failed("\(path) keeps changing; try again")
            }
            let (_, text, keys) = try readMasterKeys(settings)
            let ids = Set(keys.keys.map(\.id))
            let highest = keys.keys.compactMap { k -> Int? in
                guard k.id.hasPrefix("k") else { return nil }
                return Int(k.id.dropFirst())
            }.max() ?? 0
            var next = highest + 1
            while ids.contains("k\(next)") { next += 1 }
            let id = "k\(next)"
            let contents = (text.hasSuffix("\n") || text.isEmpty ? text : text + "\n") + MasterKeys.generateLine(id: id) + "\n"
            try writeFileAtomically(path, contents: contents, mode: 0o600, owner: fileOwner(path))
            let count = keys.keys.count + 1
            if json {
                printJSON(["key_id": .string(id), "previous_key_id": .string(keys.current.id), "keys": .int(Int64(count)), "path": .string(path),
                           "reload_needed": .bool(true)])
            } else {
                print("added master key \(id) to \(path) (\(count) keys; older keys stay for the files they encrypt)")
                if settings.isCredential(section: "encryption", key: "master_key_file") {
                    print("the service reads a copy of this systemd credential made when it started: run `systemctl restart depot` (a reload or SIGHUP re-reads the old copy); until then workers encrypt new uploads with \(keys.current.id)")
                } else {
                    print("workers pick it up on SIGHUP: run `systemctl reload depot` (or kill -HUP the depot supervisor); until then they encrypt new uploads with \(keys.current.id)")
                }
                print("back up the key file now: without it the files encrypted under \(id) cannot be read")
            }
            return
        }
    }
}

struct KeysRotateLinks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-links",
        abstract: "Replace the link-signing secret: every signed download link dies, file keys stay.",
        discussion: """
            Writes a new secret (32 random bytes as hex) to [encryption] link_secret_file atomically: a temp file with mode 0600 and the file's owner is written, then renamed over it. Then it forgets every recorded download link in the database, so every link made so far gets 404 from the next request on, even before the workers reload. Files, their master keys and bearer-token downloads are untouched.

            Workers sign new links with the old secret until they reload: `systemctl reload depot`, i.e. SIGHUP to the supervisor. A link made in between works until the reload, and 404s after it.

            With systemd credentials (link_secret_file = credential:NAME, LoadCredential=) set CREDENTIALS_DIRECTORY to the directory of the source files (e.g. /etc/depot/secrets) so depotctl replaces the source file, then `systemctl restart depot`: the service reads a copy made at start, which a reload does not refresh.

            A configuration without link_secret_file (links signed with a secret derived from the first master key) cannot rotate: add `link_secret_file = /etc/depot/secrets/link.key` to [encryption], run `depotctl init` (it creates the file), and reload. That alone invalidates every earlier link.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let settings = try Settings.load(global)
        guard let path = try settings.linkSecretFile() else {
            throw CtlFailure.usage("[encryption] link_secret_file is not set in \(settings.configPath) (see `depotctl keys rotate-links --help`)")
        }
        let metadata = try settings.openDatabase()
        let owner = fileOwner(path)
        try writeFileAtomically(path, contents: Hex.encode(SecureRandom.bytes(32)) + "\n", mode: 0o600, owner: owner)
        // The rows go right after the file: a link is honoured only while its
        // row exists, so every earlier link is dead now, reload or not.
        let forgotten = try metadata.deleteAllDownloadLinks()
        let credential = settings.isCredential(section: "encryption", key: "link_secret_file")
        if json {
            printJSON(["path": .string(path), "download_links_revoked": .int(Int64(forgotten)), "reload_needed": .bool(!credential),
                       "restart_needed": .bool(credential)])
            return
        }
        print("wrote a new link secret to \(path); \(forgotten) recorded download link\(forgotten == 1 ? "" : "s") revoked (every earlier link now gets 404)")
        if credential {
            print("the service reads a copy of this systemd credential made when it started: run `systemctl restart depot` (a reload or SIGHUP re-reads the old copy); until then workers sign new links with the old secret")
        } else {
            print("workers sign new links with the new secret after `systemctl reload depot` (or kill -HUP the depot supervisor); links they make before that stop working at the reload")
        }
    }
}

struct KeysStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show how many files (and bytes) each master key protects.",
        discussion: "Exit status 1 when some files name a key id the key file does not hold (they cannot be read).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the key table as JSON.") var json = false

    func run() throws {
        let settings = try Settings.load(global)
        let (path, _, keys) = try readMasterKeys(settings)
        let metadata = try settings.openDatabase()
        let usage = Dictionary(uniqueKeysWithValues: try metadata.filesPerKey().map { ($0.keyID, $0) })
        let inFile = keys.keys.map(\.id)
        let unknown = usage.keys.filter { !inFile.contains($0) }.sorted()
        let rows = (inFile + unknown).map { id in
            (id: id, files: usage[id]?.files ?? 0, bytes: usage[id]?.bytes ?? 0, current: id == keys.current.id, known: inFile.contains(id))
        }
        if json {
            printJSON([
                "path": .string(path), "current": .string(keys.current.id),
                "keys": .array(rows.map {
                    ["id": .string($0.id), "files": .int($0.files), "bytes": .int($0.bytes), "current": .bool($0.current), "in_key_file": .bool($0.known)]
                }),
            ])
        } else {
            printTable(["KEY", "FILES", "BYTES", "STATUS"], rows.map {
                [$0.id, String($0.files), humanSize($0.bytes),
                 !$0.known ? "NOT IN KEY FILE: these files cannot be decrypted" : ($0.current ? "current (new uploads, after reload)" : "old")]
            })
        }
        if !unknown.isEmpty {
            printError("depotctl: files reference key ids missing from \(path): \(unknown.joined(separator: ", "))")
            throw ProblemsFound()
        }
    }
}
