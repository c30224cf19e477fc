import ArgumentParser
import DepotHTTP
import DepotMetadata
import Foundation

// Read-only listings of what the database holds: the uploads in flight and
// the file records. Scripts and tests read them with --json instead of
// querying the database themselves.

/// What both listings take: the configuration, an optional organization, --json.
struct ListOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this organization (UUID).") var org: String?
    @Flag(help: "Print the list as JSON.") var json = false

    func validate() throws { _ = try organizationID() }

    func organizationID() throws -> String? { try org.map { try parseUUID($0, "--org") } }
}

// MARK: reservations

struct ReservationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reservations",
        abstract: "List the uploads in flight: reservations, their bytes and the worker holding each.",
        discussion: """
            An upload reserves its bytes before it streams to the store and turns the reservation into a file record when it commits. A reservation whose worker is gone, or older than its expiry, is stuck: `depotctl gc` releases it.
            """,
        subcommands: [ReservationsList.self]
    )
}

struct ReservationsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List reservations, oldest first.")

    @OptionGroup var options: ListOptions

    func run() throws {
        let id = try options.organizationID()
        let reservations = try Settings.load(options.global).openDatabase().reservations().filter { id == nil || $0.organizationID == id }
        if options.json {
            printJSON(["reservations": .array(reservations.map {
                ["id": .string($0.id), "organization_id": .string($0.organizationID), "user_id": .string($0.userID),
                 "object_key": .string($0.objectKey), "upload_id": $0.uploadID.map { .string($0) } ?? .null, "bytes": .int($0.bytes),
                 "owner_pid": .int(Int64($0.ownerPID)), "owner_start": .string($0.ownerStart),
                 "created_at": .string(rfc3339($0.createdAt)), "expires_at": .string(rfc3339($0.expiresAt))]
            })])
            return
        }
        let t = now
        printTable(["OBJECT KEY", "BYTES", "WORKER", "AGE", "EXPIRES"], reservations.map {
            [$0.objectKey, String($0.bytes), String($0.ownerPID), duration(max(0, t - $0.createdAt)), rfc3339($0.expiresAt)]
        })
    }
}

// MARK: files

struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files", abstract: "List file records (object keys and sizes), or delete one (`file rm`).",
        subcommands: [FilesList.self, FilesRemove.self], aliases: ["file"]
    )
}

struct FilesList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the file records' object keys and sizes, sorted by key.")

    @OptionGroup var options: ListOptions

    func run() throws {
        let files = try Settings.load(options.global).openDatabase().allFileKeys(organizationID: try options.organizationID()).sorted { $0.key < $1.key }
        if options.json {
            printJSON(["files": .array(files.map { ["object_key": .string($0.key), "size": .int($0.size)] })])
            return
        }
        printTable(["OBJECT KEY", "SIZE"], files.map { [$0.key, String($0.size)] })
    }
}

// MARK: uploads

struct UploadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uploads",
        abstract: "List or abort resumable (tus) uploads.",
        discussion: """
            A resumable upload reserves its whole length when it is created and keeps it until it completes, is deleted by its client, is aborted here, or expires (`depotctl gc` removes expired ones).
            """,
        subcommands: [UploadsList.self, UploadsAbort.self]
    )
}

struct UploadsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List resumable uploads, oldest first.")

    @OptionGroup var options: ListOptions

    func run() throws {
        let uploads = try Settings.load(options.global).openDatabase().resumableUploads(organizationID: try options.organizationID())
        let t = now
        func state(_ u: ResumableUpload) -> String { u.fileID != nil ? "complete" : (u.expiresAt < t ? "expired" : "open") }
        if options.json {
            printJSON(["uploads": .array(uploads.map {
                ["id": .string($0.id), "organization_id": .string($0.organizationID), "user_id": .string($0.userID),
                 "object_key": .string($0.objectKey), "offset": .int($0.offset), "length": .int($0.length), "state": .string(state($0)),
                 "file_id": $0.fileID.map { .string($0) } ?? .null,
                 "created_at": .string(rfc3339($0.createdAt)), "expires_at": .string(rfc3339($0.expiresAt))]
            })])
            return
        }
        printTable(["ID", "ORGANIZATION", "OFFSET", "LENGTH", "STATE", "AGE", "EXPIRES"], uploads.map {
            [$0.id, $0.organizationID, String($0.offset), String($0.length), state($0), duration(max(0, t - $0.createdAt)),
             rfc3339($0.expiresAt)]
        })
    }
}

struct UploadsAbort: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort",
        abstract: "Abort a resumable upload: its stored bytes are deleted and its reserved quota freed (a completed upload's file stays).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The upload's id (the last segment of its URL).") var id: String

    func run() throws {
        let id = try parseUUID(self.id, "ID")
        let (maintenance, _) = try openMaintenance(global)
        guard let upload = try maintenance.abortResumableUpload(id: id) else { throw CtlFailure.failed("no upload \(id)") }
        print("aborted upload \(upload.id) (\(upload.offset) of \(upload.length) bytes\(upload.fileID != nil ? ", complete: its file stays" : ""))")
    }
}
