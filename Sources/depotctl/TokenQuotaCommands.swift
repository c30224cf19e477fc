import ArgumentParser
import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata
import DepotService
import Foundation

// MARK: token

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue API tokens (for deployments without an identity provider).",
        subcommands: [TokenIssue.self]
    )
}

struct TokenIssue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Print an HS256 token signed with the configured secret, or a one-time console login link.",
        discussion: """
            The token carries sub (--user), org (--org), role, iat and exp, plus iss and aud when [auth] issuer and audience are configured, and kid when [auth] hs256_key_id is. Needs HS256 among [auth] algorithms and a readable hs256_secret_file. Whoever holds the token acts as that user until it expires: keep --ttl short.

            With --console, no token is printed: the link printed opens the console at [server] public_url and logs that user in once, within --login-ttl seconds; the token the console then gets lives --ttl seconds. The link holds a secret: hand it over as you would a password.

            Examples:
              curl -H "Authorization: Bearer $(depotctl token issue \\
                  --user $USER_ID --org $ORG_ID)" $DEPOT_URL/api/v1/storage/quota
              depotctl token issue --console --user $USER_ID --org $ORG_ID --role admin
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "User id (UUID): the `sub` claim.") var user: String
    @Option(help: "Organization id (UUID): the `org` claim.") var org: String
    @Option(help: "member or admin (organization administrator).") var role: String = "member"
    @Option(help: "Lifetime in seconds (1 to 31536000).") var ttl: Int64 = 3600
    @Option(help: "individual or organization: the account type used if the organization is new.") var acct: String?
    @Flag(help: "Print {\"token\", \"expires_at\"} as JSON instead of the bare token.") var json = false
    @Flag(help: "Print a one-time console login link instead of a token (as JSON with --json).") var console = false
    @Option(help: "With --console: seconds the link can be used in (60 to 86400).") var loginTtl: Int64 = 600

    func validate() throws {
        _ = try parseUUID(user, "--user")
        _ = try parseUUID(org, "--org")
        guard let _ = Role(rawValue: role) else { throw ValidationError("--role must be member or admin") }
        guard (1...31_536_000).contains(ttl) else { throw ValidationError("--ttl must be between 1 and 31536000 seconds") }
        if let acct, AccountKind(rawValue: acct) == nil { throw ValidationError("--acct must be individual or organization") }
        guard (60...86_400).contains(loginTtl) else { throw ValidationError("--login-ttl must be between 60 and 86400 seconds") }
    }

    func run() throws {
        let config = try loadFullConfiguration(global)
        guard let issuer = TokenIssuer(configuration: config.auth) else {
            throw CtlFailure.usage("HS256 is not among [auth] algorithms in \(global.configPath); depotctl issues HS256 tokens only")
        }
        let userID = try parseUUID(user, "--user"), organizationID = try parseUUID(org, "--org")
        let role = Role(rawValue: self.role) ?? .member  // validate() refused anything else
        let accountType = acct.flatMap(AccountKind.init(rawValue:))
        let issuedAt = now
        if console {
            let code = SecretToken.generate()
            let login = ConsoleLogin(id: code.id, organizationID: organizationID, userID: userID, role: role.rawValue, accountType: accountType,
                                     tokenLifetime: ttl, secretHash: code.secretHash, createdAt: issuedAt, expiresAt: issuedAt + loginTtl,
                                     usedAt: nil)
            let settings = try Settings.load(global)
            if settings.file.string("server", "public_url") == nil {
                printError("warning: [server] public_url is not set in \(global.configPath); the link names \(config.publicURL)")
            }
            try settings.openDatabase().createConsoleLogin(login)
            let url = config.publicURL + "/console/#login=" + code.text
            if json {
                printJSON(["console_url": .string(url), "expires_at": .string(rfc3339(login.expiresAt))])
            } else {
                print(url)
            }
            return
        }
        let token = issuer.issue(userID: userID, organizationID: organizationID, role: role,
                                 accountType: accountType, issuedAt: issuedAt, lifetime: ttl)
        if json {
            printJSON(["token": .string(token), "expires_at": .string(rfc3339(issuedAt + ttl))])
        } else {
            print(token)
        }
    }
}

// MARK: quota

struct QuotaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota", abstract: "Rebuild usage counters from the file records.",
        subcommands: [QuotaRecalc.self]
    )
}

struct QuotaRecalc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recalc",
        abstract: "Recompute used bytes, file counts and reservations of one or every organization.",
        discussion: """
            Each organization is rebuilt in its own short transaction from its file records and live reservations, so it is safe while uploads run. Prints the figures before and after.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this organization (UUID); default: all.") var org: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws { if let org { _ = try parseUUID(org, "--org") } }

    func run() throws {
        let metadata = try Settings.load(global).openDatabase()
        var ids: [String]
        if let org {
            let id = try parseUUID(org, "--org")
            guard try metadata.account(organizationID: id) != nil else { throw CtlFailure.failed("no organization \(id)") }
            ids = [id]
        } else {
            ids = try metadata.organizations().map(\.organizationID)
        }
        var results: [JSONValue] = []
        var changed = 0
        for id in ids {
            guard let before = try metadata.account(organizationID: id) else { continue }
            try metadata.recalculate(organizationID: id)
            guard let after = try metadata.account(organizationID: id) else { continue }
            let differs = before.quota != after.quota
            if differs { changed += 1 }
            if json {
                results.append(["organization_id": .string(id), "before": Self.figures(before.quota), "after": Self.figures(after.quota),
                                "changed": .bool(differs)])
            } else {
                let b = before.quota, a = after.quota
                print("\(id): used \(b.usedBytes) → \(a.usedBytes) bytes, files \(b.fileCount) → \(a.fileCount), reserved \(b.reservedBytes) → \(a.reservedBytes) bytes in \(b.reservedFiles) → \(a.reservedFiles) uploads" + (differs ? "  (corrected)" : ""))
            }
        }
        if json {
            printJSON(["organizations": .array(results), "changed": .int(Int64(changed))])
        } else {
            print("\(ids.count) organization\(ids.count == 1 ? "" : "s") recalculated, \(changed) corrected")
        }
    }

    static func figures(_ q: QuotaState) -> JSONValue {
        ["used_bytes": .int(q.usedBytes), "file_count": .int(q.fileCount), "reserved_bytes": .int(q.reservedBytes), "reserved_files": .int(q.reservedFiles)]
    }
}

// MARK: stats

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Deployment figures: files, bytes, organizations, reservations, oldest reservation.",
        discussion: "An old reservation (older than [uploads] reservation_ttl_seconds) points at a stuck upload; `depotctl gc` reclaims it.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the figures as JSON.") var json = false

    func run() throws {
        let metadata = try Settings.load(global).openDatabase(requireCurrentSchema: false)
        let s = try metadata.adminStats()
        let version = try metadata.schemaVersion()
        let t = now
        let age = s.oldestReservationCreatedAt.map { max(0, t - $0) }
        if json {
            printJSON([
                "files": .int(s.files), "bytes": .int(s.bytes), "organizations": .int(s.organizations), "users": .int(s.users),
                "reservations": .int(s.reservations), "reserved_bytes": .int(s.reservedBytes),
                "oldest_reservation_age_seconds": age.map { .int($0) } ?? .null,
                "oldest_reservation_created_at": s.oldestReservationCreatedAt.map { .string(rfc3339($0)) } ?? .null,
                "pending_deletes": .int(s.pendingDeletes), "schema_version": .int(Int64(version)),
            ])
            return
        }
        print("files              \(s.files)")
        print("bytes              \(s.bytes) (\(humanSize(s.bytes)))")
        print("organizations      \(s.organizations)")
        print("users              \(s.users)")
        print("reservations       \(s.reservations) (\(s.reservedBytes) bytes)")
        print("oldest reservation " + (age.map { "\(duration($0)) old, since \(rfc3339(s.oldestReservationCreatedAt!))" } ?? "-"))
        print("pending deletes    \(s.pendingDeletes)")
        print("schema version     \(version)")
    }
}
