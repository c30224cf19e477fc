import ArgumentParser
import DepotDomain
import DepotHTTP
import DepotMetadata
import Foundation

// MARK: plan

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "List, create and change plans (quota, file size and count limits, categories).",
        discussion: """
            Plans live in the database. The configuration's [plan.NAME] sections only seed plans that do not exist yet; after that, change them here. A change applies at once to every organization on the plan: the next upload is checked against it.
            """,
        subcommands: [PlanList.self, PlanCreate.self, PlanUpdate.self]
    )
}

func planJSON(_ p: Plan, organizations: Int64? = nil) -> JSONValue {
    var members: [(String, JSONValue)] = [
        ("name", .string(p.name)), ("quota_bytes", .int(p.quotaBytes)), ("max_file_size_bytes", .int(p.maxFileSizeBytes)),
        ("max_files", .int(p.maxFiles)), ("allowed_categories", .array(p.allowedCategories.map { .string($0.rawValue) })),
        ("member_quota_bytes", p.memberQuotaBytes.map { .int($0) } ?? .null),
    ]
    if let organizations { members.append(("organizations", .int(organizations))) }
    return .object(members)
}

func validatePlanName(_ name: String) throws {
    let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_-.")
    guard !name.isEmpty, name.count <= 64, name.allSatisfy({ allowed.contains($0) }) else {
        throw ValidationError("plan names are 1–64 characters of a-z, 0-9, '.', '_' and '-'")
    }
}

func checkPlanLimits(_ p: Plan) throws {
    guard p.maxFileSizeBytes > 0 else { throw ValidationError("--max-file-size must be more than 0") }
    guard p.maxFiles > 0 else { throw ValidationError("--max-files must be more than 0") }
    if let m = p.memberQuotaBytes, m <= 0 { throw ValidationError("--member-quota must be more than 0") }
}

func printPlan(_ p: Plan) {
    print("plan \(p.name): quota \(exactSize(p.quotaBytes)), max file size \(exactSize(p.maxFileSizeBytes)), max files \(p.maxFiles), categories \(p.allowedCategories.map(\.rawValue).joined(separator: ","))"
          + (p.memberQuotaBytes.map { ", per member \(exactSize($0))" } ?? ""))
}

struct PlanList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the plans and how many organizations use each.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the plans as JSON.") var json = false

    func run() throws {
        let metadata = try Settings.load(global).openDatabase()
        let plans = try metadata.plans()
        let counts = try plans.map { try metadata.organizationCount(plan: $0.name) }
        if json {
            printJSON(["plans": .array(zip(plans, counts).map { planJSON($0, organizations: $1) })])
            return
        }
        printTable(["NAME", "QUOTA", "MAX FILE SIZE", "MAX FILES", "ORGS", "CATEGORIES"], zip(plans, counts).map { p, n in
            [p.name, exactSize(p.quotaBytes), exactSize(p.maxFileSizeBytes), String(p.maxFiles), String(n),
             p.allowedCategories.map(\.rawValue).joined(separator: ",")]
        })
    }
}

struct PlanCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a plan.",
        discussion: "Example: depotctl plan create team --quota 500GiB --max-file-size 5GiB --max-files 100000 --categories data_source,general")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Plan name (a-z, 0-9, '.', '_', '-').") var name: String
    @Option(help: "Total storage of an organization on this plan (e.g. 100GiB).") var quota: String
    @Option(help: "Largest single file (e.g. 5GiB).") var maxFileSize: String
    @Option(help: "Most files an organization may store.") var maxFiles: Int64
    @Option(help: "Allowed categories, comma-separated (default: all of data_source,profile_image,general).") var categories: String?
    @Option(help: "Most that one member of an organization may store of its quota (default: no limit per member).") var memberQuota: String?
    @Flag(help: "Print the plan as JSON.") var json = false

    func validate() throws {
        try validatePlanName(name)
        _ = try plan()
    }

    func plan() throws -> Plan {
        let p = Plan(name: name, quotaBytes: try parseSize(quota, "--quota"), maxFileSizeBytes: try parseSize(maxFileSize, "--max-file-size"),
                     maxFiles: maxFiles, allowedCategories: try categories.map(parseCategories) ?? FileCategory.allCases,
                     memberQuotaBytes: try memberQuota.map { try parseSize($0, "--member-quota") })
        try checkPlanLimits(p)
        return p
    }

    func run() throws {
        let metadata = try Settings.load(global).openDatabase()
        let p = try plan()
        guard try metadata.plan(named: name) == nil else {
            throw CtlFailure.failed("plan \(name) already exists (use `depotctl plan update`)")
        }
        try metadata.upsertPlan(p, now: now)
        if json { printJSON(planJSON(p)) } else { print("created"); printPlan(p) }
    }
}

struct PlanUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change limits of an existing plan (only the options given change).",
        discussion: "Lowering a quota below what an organization already stores refuses its next uploads; it never deletes files. Thresholds the change makes an organization cross are reported (quota.threshold events).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Plan name.") var name: String
    @Option(help: "Total storage of an organization on this plan.") var quota: String?
    @Option(help: "Largest single file.") var maxFileSize: String?
    @Option(help: "Most files an organization may store.") var maxFiles: Int64?
    @Option(help: "Allowed categories, comma-separated.") var categories: String?
    @Option(help: "Most that one member of an organization may store of its quota; `none` removes the limit.") var memberQuota: String?
    @Flag(help: "Print the plan as JSON.") var json = false

    func validate() throws {
        guard quota != nil || maxFileSize != nil || maxFiles != nil || categories != nil || memberQuota != nil else {
            throw ValidationError("give at least one of --quota, --max-file-size, --max-files, --categories, --member-quota")
        }
        if let memberQuota, memberQuota != "none" { _ = try parseSize(memberQuota, "--member-quota") }
        if let quota { _ = try parseSize(quota, "--quota") }
        if let maxFileSize { _ = try parseSize(maxFileSize, "--max-file-size") }
        if let categories { _ = try parseCategories(categories) }
    }

    func run() throws {
        let metadata = try Settings.load(global).openDatabase()
        guard var p = try metadata.plan(named: name) else { throw CtlFailure.failed("no plan named \(name) (see `depotctl plan list`)") }
        if let quota { p.quotaBytes = try parseSize(quota, "--quota") }
        if let maxFileSize { p.maxFileSizeBytes = try parseSize(maxFileSize, "--max-file-size") }
        if let maxFiles { p.maxFiles = maxFiles }
        if let categories { p.allowedCategories = try parseCategories(categories) }
        if let memberQuota { p.memberQuotaBytes = memberQuota == "none" ? nil : try parseSize(memberQuota, "--member-quota") }
        try checkPlanLimits(p)
        try metadata.upsertPlan(p, now: now)
        if json { printJSON(planJSON(p)) } else { print("updated"); printPlan(p) }
    }
}

// MARK: org

struct OrgCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org",
        abstract: "List organizations, show one, move one to another plan, or delete one.",
        discussion: "Organizations are created on first sight of a valid token; ORG is the token's `org` claim (a UUID).",
        subcommands: [OrgList.self, OrgShow.self, OrgSetPlan.self, OrgDelete.self]
    )
}

func accountJSON(_ a: Account, users: Int64? = nil) -> [(String, JSONValue)] {
    var members: [(String, JSONValue)] = [
        ("id", .string(a.organizationID)), ("account_type", .string(a.accountType.rawValue)), ("plan", .string(a.plan.name)),
        ("quota_bytes", .int(a.plan.quotaBytes)), ("used_bytes", .int(a.quota.usedBytes)), ("reserved_bytes", .int(a.quota.reservedBytes)),
        ("file_count", .int(a.quota.fileCount)), ("reserved_files", .int(a.quota.reservedFiles)),
    ]
    if let users { members.append(("users", .int(users))) }
    return members
}

func percent(_ used: Int64, of total: Int64) -> String {
    total > 0 ? String(format: "%.1f%%", Double(used) * 100 / Double(total)) : "-"
}

struct OrgList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List organizations with their plan and usage.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only organizations on this plan.") var plan: String?
    @Flag(help: "Print the organizations as JSON.") var json = false

    func run() throws {
        let metadata = try Settings.load(global).openDatabase()
        let accounts = try metadata.organizations().filter { plan == nil || $0.plan.name == plan }
        if json {
            printJSON(["organizations": .array(accounts.map { .object(accountJSON($0)) })])
            return
        }
        printTable(["ORGANIZATION", "TYPE", "PLAN", "FILES", "USED", "QUOTA", "USED%"], accounts.map { a in
            [a.organizationID, a.accountType.rawValue, a.plan.name, String(a.quota.fileCount), humanSize(a.quota.usedBytes),
             humanSize(a.plan.quotaBytes), percent(a.quota.usedBytes, of: a.plan.quotaBytes)]
        })
    }
}

struct OrgShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one organization: plan, usage by category, users.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Organization id (UUID).") var org: String
    @Flag(help: "Print the organization as JSON.") var json = false

    func validate() throws { _ = try parseUUID(org, "ORG") }

    func run() throws {
        let id = try parseUUID(org, "ORG")
        let metadata = try Settings.load(global).openDatabase()
        guard let account = try metadata.account(organizationID: id) else { throw CtlFailure.failed("no organization \(id)") }
        let users = try metadata.users(organizationID: id)
        let usage = try metadata.usage(organizationID: id, userID: "")
        let categories = FileCategory.allCases.map { c in (c, usage?.byCategory[c] ?? CategoryUsage(bytes: 0, files: 0)) }
        if json {
            var members = accountJSON(account, users: Int64(users.count))
            members.append(("max_file_size_bytes", .int(account.plan.maxFileSizeBytes)))
            members.append(("max_files", .int(account.plan.maxFiles)))
            members.append(("by_category", .object(categories.map { ($0.0.rawValue, ["bytes": .int($0.1.bytes), "files": .int($0.1.files)]) })))
            members.append(("user_ids", .array(users.map { .string($0) })))
            printJSON(.object(members))
            return
        }
        print("organization \(account.organizationID) (\(account.accountType.rawValue))")
        printPlan(account.plan)
        print("used       \(humanSize(account.quota.usedBytes)) of \(humanSize(account.plan.quotaBytes)) (\(percent(account.quota.usedBytes, of: account.plan.quotaBytes))), \(account.quota.usedBytes) bytes")
        print("files      \(account.quota.fileCount) of \(account.plan.maxFiles)")
        print("reserved   \(account.quota.reservedBytes) bytes in \(account.quota.reservedFiles) uploads in flight")
        for (c, u) in categories { print("  \(c.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(u.files) files, \(humanSize(u.bytes))") }
        print("users      \(users.count)")
        for u in users { print("  \(u)") }
    }
}

struct OrgSetPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-plan", abstract: "Move an organization to another plan.",
        discussion: "Takes effect on the next request; files over the new limits stay, further uploads are refused. Thresholds the new quota makes it cross are reported (quota.threshold events).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Organization id (UUID).") var org: String
    @Argument(help: "Plan name (see `depotctl plan list`).") var plan: String

    func validate() throws { _ = try parseUUID(org, "ORG") }

    func run() throws {
        let id = try parseUUID(org, "ORG")
        let metadata = try Settings.load(global).openDatabase()
        guard let p = try metadata.plan(named: plan) else { throw CtlFailure.failed("no plan named \(plan) (see `depotctl plan list`)") }
        guard let before = try metadata.account(organizationID: id) else { throw CtlFailure.failed("no organization \(id)") }
        guard try metadata.setPlan(organizationID: id, plan: p.name, now: now) else { throw CtlFailure.failed("no organization \(id)") }
        print("organization \(id): plan \(before.plan.name) → \(p.name)")
        if before.quota.usedBytes > p.quotaBytes || before.quota.fileCount > p.maxFiles {
            print("note: it already stores \(before.quota.usedBytes) bytes in \(before.quota.fileCount) files, over the new plan's limits; uploads will be refused until it is under them")
        }
    }
}

// MARK: user

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Show a user's files and bytes, or delete a user (offboarding).",
        subcommands: [UserShow.self, UserDelete.self]
    )
}

struct UserShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one user of an organization: files and bytes, by category (counted from the file records).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Organization id (UUID).") var org: String
    @Argument(help: "User id (UUID, the token's `sub`).") var user: String
    @Flag(help: "Print the user as JSON.") var json = false

    func validate() throws {
        _ = try parseUUID(org, "ORG")
        _ = try parseUUID(user, "USER")
    }

    func run() throws {
        let orgID = try parseUUID(org, "ORG"), userID = try parseUUID(user, "USER")
        let metadata = try Settings.load(global).openDatabase()
        guard let s = try metadata.userSummary(organizationID: orgID, userID: userID) else {
            throw CtlFailure.failed("no user \(userID) in organization \(orgID)")
        }
        if json {
            printJSON([
                "organization_id": .string(orgID), "user_id": .string(userID), "created_at": .string(rfc3339(s.createdAt)),
                "files": .int(s.files), "bytes": .int(s.bytes), "last_upload_at": s.lastUploadAt.map { .string(rfc3339($0)) } ?? .null,
                "by_category": .object(s.byCategory.map { ($0.category, ["files": .int($0.files), "bytes": .int($0.bytes)]) }),
            ])
            return
        }
        print("user \(userID) of organization \(orgID), first seen \(rfc3339(s.createdAt))")
        print("files \(s.files), bytes \(s.bytes) (\(humanSize(s.bytes)))" + (s.lastUploadAt.map { ", last upload \(rfc3339($0))" } ?? ""))
        for c in s.byCategory { print("  \(c.category.padding(toLength: 14, withPad: " ", startingAt: 0)) \(c.files) files, \(humanSize(c.bytes))") }
    }
}
