import ArgumentParser
import DepotHTTP
import DepotMetadata
import DepotService
import Foundation

// Offboarding: `user delete`, `org delete` and `file rm`. Each is a dry run
// unless --yes is given: it reads what would go and changes nothing. With
// --yes the records go in one transaction (quota freed, every object queued
// as a pending delete), then the objects are deleted at the store at once;
// what the store refuses, the next `depotctl gc` deletes.

/// The part every offboarding command shares.
struct OffboardingOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Delete for real. Without it, the command only shows what would be deleted.") var yes = false
    @Flag(help: "Print the report as JSON.") var json = false
}

let offboardingDiscussion = """
    Without --yes this is a dry run: it shows what would be deleted and changes nothing. With --yes, in one database transaction: the file records go and their bytes are given back to the organization's quota (counters and usage rows), and so do the shares (of those files, and with the user), the signed download and upload links, the unused console login links, the resumable uploads and the reservations of uploads in flight (an upload in flight then fails). Every store object is queued as a pending delete and deleted at once; one the store refuses stays queued and the next `depotctl gc` deletes it (exit status 1 until then).

    Deleting a user does not stop their tokens: a valid token makes the user again on its next request, with nothing in it. Revoke the user at the identity provider first.
    """

/// Runs one offboarding: a dry run, or the deletion and the store deletes.
func runOffboarding(_ options: OffboardingOptions, _ target: OffboardingTarget, name: String, header: [(String, JSONValue)]) throws {
    if !options.yes {
        let metadata = try Settings.load(options.global).openDatabase()
        guard let report = try metadata.offboardingInventory(target, now: now) else { throw CtlFailure.failed("no \(name)") }
        printOffboarding(report, name: name, header: header, applied: nil, json: options.json)
        return
    }
    let (maintenance, _) = try openMaintenance(options.global)
    guard let report = try maintenance.metadata.offboard(target, now: now) else { throw CtlFailure.failed("no \(name)") }
    let outcome = try maintenance.deleteQueuedObjects(report.queuedDeletes)
    printOffboarding(report, name: name, header: header, applied: outcome, json: options.json)
    if !outcome.failed.isEmpty { throw ProblemsFound() }
}

private func printOffboarding(_ r: OffboardingReport, name: String, header: [(String, JSONValue)],
                              applied: (deleted: [String], failed: [String])?, json: Bool) {
    if json {
        var members = header + [
            ("dry_run", .bool(applied == nil)), ("files", .int(r.files)), ("bytes", .int(r.bytes)), ("shares", .int(r.shares)),
            ("download_links", .int(r.downloadLinks)), ("upload_links", .int(r.uploadLinks)), ("console_logins", .int(r.consoleLogins)),
            ("resumable_uploads", .int(r.resumableUploads)), ("reservations", .int(r.reservations)),
            ("reserved_bytes", .int(r.reservedBytes)), ("users", .int(r.users)),
            ("objects", .array(r.queuedDeletes.map { .string($0.key) })),
        ]
        if let applied {
            members.append(("deleted_objects", .array(applied.deleted.map { .string($0) })))
            members.append(("failed_deletes", .array(applied.failed.map { .string($0) })))
        }
        printJSON(.object(members))
        return
    }
    print(applied == nil ? "dry run: nothing changed; run again with --yes to delete \(name):" : "deleted \(name):")
    print("  files              \(r.files) (\(humanSize(r.bytes)), \(r.bytes) bytes given back to the quota)")
    print("  shares             \(r.shares)")
    print("  download links     \(r.downloadLinks)")
    print("  upload links       \(r.uploadLinks)")
    print("  console logins     \(r.consoleLogins)")
    print("  resumable uploads  \(r.resumableUploads)")
    print("  reservations       \(r.reservations) (\(r.reservedBytes) bytes)")
    if r.users > 0 { print("  user records       \(r.users)") }
    print("  store objects      \(r.queuedDeletes.count)")
    for item in r.queuedDeletes { print("    \(item.key)") }
    if let applied {
        print("store objects deleted: \(applied.deleted.count)")
        if !applied.failed.isEmpty {
            print("store objects the store refused (queued; the next `depotctl gc` deletes them): \(applied.failed.count)")
            for k in applied.failed { print("    \(k)") }
        }
    }
}

// MARK: user delete

struct UserDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a user with their files, shares, links and uploads (dry run unless --yes).",
        discussion: offboardingDiscussion + "\n\nOther members' files stay, those they shared with this user included; this user's files go even when shared with others. Example: depotctl user delete ORG USER, then depotctl user delete ORG USER --yes")

    @OptionGroup var options: OffboardingOptions
    @Argument(help: "Organization id (UUID).") var org: String
    @Argument(help: "User id (UUID, the token's `sub`).") var user: String

    func validate() throws {
        _ = try parseUUID(org, "ORG")
        _ = try parseUUID(user, "USER")
    }

    func run() throws {
        let orgID = try parseUUID(org, "ORG"), userID = try parseUUID(user, "USER")
        try runOffboarding(options, .user(organizationID: orgID, userID: userID), name: "user \(userID) of organization \(orgID)",
                           header: [("organization_id", .string(orgID)), ("user_id", .string(userID))])
    }
}

// MARK: org delete

struct OrgDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete an organization with all its users and files (dry run unless --yes).",
        discussion: offboardingDiscussion + "\n\nThe organization's record, its users, usage rows and workflow names go too. A valid token for it makes a new, empty organization on its next request.")

    @OptionGroup var options: OffboardingOptions
    @Argument(help: "Organization id (UUID).") var org: String

    func validate() throws { _ = try parseUUID(org, "ORG") }

    func run() throws {
        let orgID = try parseUUID(org, "ORG")
        try runOffboarding(options, .organization(id: orgID), name: "organization \(orgID)", header: [("organization_id", .string(orgID))])
    }
}

// MARK: file rm

struct FilesRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete one file by its object key, as its owner's DELETE would (dry run unless --yes).",
        discussion: """
            Removes the file record, gives its bytes back to the quota, removes its shares and download links, and deletes its object at the store (a refused delete stays queued for `depotctl gc`). Find keys with `depotctl files list`. Without --yes nothing changes.
            """)

    @OptionGroup var options: OffboardingOptions
    @Argument(help: "The file's object key (organizations/…).") var objectKey: String

    func run() throws {
        try runOffboarding(options, .file(objectKey: objectKey), name: "file \(objectKey)", header: [("object_key", .string(objectKey))])
    }
}
