import ArgumentParser
import DepotHTTP
import DepotMetadata
import Foundation

// The event outbox (webhooks): what was recorded, where each endpoint stands
// with it, and sending events again.

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "List the events sent to the configured webhook endpoints, and send them again.",
        discussion: """
            Every file created, deleted or expired, resumable upload expired, file rejected and quota threshold crossed is recorded as an event in the same transaction as the change, with one delivery per [webhook.NAME] endpoint that wants it. The supervisor's event deliverer POSTs each one, signed, retrying with exponential backoff for [events] max_age_seconds (24 h) before marking it dead. `depotctl gc` forgets events older than [events] keep_days that no endpoint still waits for.
            """,
        subcommands: [EventsList.self, EventsReplay.self]
    )
}

/// `--since`: RFC 3339 (2026-12-01T10:00:00Z), unix seconds, or a span back from now (30m, 2h, 7d).
func parseTime(_ text: String, _ name: String) throws -> Int64 {
    let t = text.trimmingCharacters(in: .whitespaces)
    if let seconds = Int64(t) { return seconds }
    if let unit = t.last, let n = Int64(t.dropLast()), n >= 0 {
        switch unit {
        case "s": return now - n
        case "m": return now - n * 60
        case "h": return now - n * 3600
        case "d": return now - n * 86400
        default: break
        }
    }
    if let date = ISO8601DateFormatter().date(from: t) { return Int64(date.timeIntervalSince1970) }
    throw ValidationError("\(name): '\(text)' is not a time (RFC 3339, unix seconds, or a span back such as 30m, 2h, 7d)")
}

struct EventsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the newest events, oldest first, with each endpoint's delivery status.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Only events with a delivery that failed (dead, or failing and waiting for its retry).") var failed = false
    @Option(help: ArgumentHelp("Only events created at or after this time (RFC 3339, unix seconds, or 30m, 2h, 7d back).", valueName: "time")) var since: String?
    @Option(help: "At most this many events.") var limit = 100
    @Flag(help: "Print the list as JSON.") var json = false

    func run() throws {
        let from = try since.map { try parseTime($0, "--since") }
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        let records = try Settings.load(global).openDatabase().events(since: from, failedOnly: failed, limit: limit)
        if json {
            printJSON(["events": .array(records.map { r in
                ["id": .string(r.id), "type": .string(r.type), "organization_id": .string(r.organizationID),
                 "created_at": .string(rfc3339(r.createdAt)), "payload": .string(r.payload),
                 "deliveries": .array(r.deliveries.map { d in
                     ["endpoint": .string(d.endpoint), "status": .string(d.status), "attempts": .int(d.attempts),
                      "failures": .int(d.failures),
                      "next_attempt_at": d.status == "pending" ? .string(rfc3339(d.nextAttemptAt)) : .null,
                      "last_error": .optional(d.lastError), "delivered_at": d.deliveredAt.map { .string(rfc3339($0)) } ?? .null]
                 })]
            })])
            return
        }
        printTable(["ID", "TYPE", "ORGANIZATION", "CREATED", "DELIVERIES"], records.map { r in
            [r.id, r.type, r.organizationID, rfc3339(r.createdAt),
             r.deliveries.isEmpty ? "-" : r.deliveries.map { d in
                 "\(d.endpoint):\(d.status)" + (d.failures > 0 ? "(\(d.failures) failed\(d.lastError.map { ", " + $0 } ?? ""))" : "")
             }.joined(separator: " ")]
        })
    }
}

struct EventsReplay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send events again to every configured endpoint that wants them.",
        discussion: "Each event is queued again, due now, with a fresh retry window; receivers see the same body and event id (Depot-Event-Id) as before, so they can drop duplicates.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Event ids (from `depotctl events list`).") var ids: [String] = []
    @Option(help: ArgumentHelp("Every event created at or after this time (RFC 3339, unix seconds, or 30m, 2h, 7d back).", valueName: "time")) var since: String?

    func validate() throws {
        guard ids.isEmpty != (since == nil) else { throw ValidationError("give event ids or --since, not both") }
    }

    func run() throws {
        let from = try since.map { try parseTime($0, "--since") }
        let metadata = try Settings.load(global).openDatabase()
        guard !metadata.eventEndpoints.isEmpty else { throw CtlFailure.failed("no [webhook.NAME] endpoint is configured") }
        let ids = try self.ids.map { try parseUUID($0, "event id") }
        let queued = try metadata.replayEvents(ids: ids.isEmpty ? nil : ids, since: from, now: now)
        if !ids.isEmpty && queued == 0 { throw CtlFailure.failed("no such event, or no configured endpoint wants it") }
        print("deliveries queued: \(queued)")
    }
}
