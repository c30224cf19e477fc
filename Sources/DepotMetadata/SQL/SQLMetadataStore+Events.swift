import DepotDomain
import Foundation

extension SQLMetadataStore {
    // MARK: Events (the outbox)

    /// The quota percentages `quota.threshold` reports, each once per crossing.
    static let quotaThresholds: [Int64] = [80, 95, 100]

    /// Records one event, inside the caller's write transaction (the one that
    /// makes the change it reports), with a pending delivery for each
    /// endpoint that wants it. Emitted after the organization's row is
    /// updated, so one organization's events are numbered in commit order.
    @discardableResult
    func recordEvent(_ kind: DepotEvent.Kind, organizationID: String, now: Int64, data: [(String, DepotEvent.Value)]) throws -> String {
        let event = DepotEvent(id: UUIDs.random(), kind: kind, organizationID: organizationID, createdAt: now, data: data)
        try db.run("INSERT INTO events (id, type, organization_id, created_at, payload) VALUES (?, ?, ?, ?, ?)",
                   [.text(event.id), .text(kind.rawValue), .text(organizationID), .int(now), .text(event.json)])
        for endpoint in eventEndpoints where endpoint.wants(kind) {
            try db.run("""
                INSERT INTO event_deliveries (event_id, endpoint, organization_id, status, next_attempt_at, pending_since)
                VALUES (?, ?, ?, 'pending', ?, ?)
                """, [.text(event.id), .text(endpoint.name), .text(organizationID), .int(now), .int(now)])
        }
        return event.id
    }

    /// `file.deleted` or `file.expired` for each removed file, inside the removal's transaction.
    func recordRemovalEvents(_ files: [StoredFile], reason: FileRemoval, now: Int64) throws {
        for f in files {
            try recordEvent(reason == .expired ? .fileExpired : .fileDeleted, organizationID: f.organizationID, now: now,
                            data: DepotEvent.fileData(f) + [("reason", .text(reason.rawValue))])
        }
    }

    /// Compares the organization's usage with the thresholds inside the
    /// caller's write transaction (which changed the usage and holds the
    /// organization's row): each threshold newly reached is reported once;
    /// falling back below one re-arms it.
    func noteQuotaThresholds(organizationID: String, now: Int64) throws {
        guard let account = try account(organizationID: organizationID, locking: false), account.plan.quotaBytes > 0 else { return }
        let used = account.quota.usedBytes, quota = account.plan.quotaBytes
        let reached = Self.quotaThresholds.last { used >= (quota / 100) * $0 + (quota % 100) * $0 / 100 } ?? 0
        let reported = try db.first("SELECT threshold FROM quota_thresholds WHERE organization_id = ?\(db.locking("quota_thresholds"))",
                                    [.text(organizationID)]) { $0.int(0) } ?? 0
        guard reached != reported else { return }
        for threshold in Self.quotaThresholds where threshold > reported && threshold <= reached {
            try recordEvent(.quotaThreshold, organizationID: organizationID, now: now, data: [
                ("organization_id", .text(organizationID)), ("threshold", .int(threshold)), ("used_bytes", .int(used)),
                ("quota_bytes", .int(quota)), ("plan", .text(account.plan.name)),
            ])
        }
        try db.run("""
            INSERT INTO quota_thresholds (organization_id, threshold) VALUES (?, ?)
            ON CONFLICT (organization_id) DO UPDATE SET threshold = excluded.threshold
            """, [.text(organizationID), .int(reached)])
    }

    /// The seam for malware scanning: a refused upload leaves no file row,
    /// so its event is recorded on its own, in its own transaction.
    @discardableResult
    public func recordFileRejected(organizationID: String, userID: String, originalFilename: String, size: Int64,
                                   reason: String, signature: String, route: String, now: Int64) throws -> String {
        try db.writeTransaction {
            try recordEvent(.fileRejected, organizationID: organizationID, now: now, data: [
                ("organization_id", .text(organizationID)), ("user_id", .text(userID)), ("original_filename", .text(originalFilename)),
                ("size", .int(size)), ("reason", .text(reason)), ("signature", .text(signature)), ("route", .text(route)),
            ])
        }
    }

    /// Removes an expired resumable upload (as `removeResumableUpload`) and,
    /// when it never became a file, records `upload.expired` with it.
    public func expireResumableUpload(id: String, now: Int64) throws -> ResumableUpload? {
        try db.writeTransaction {
            guard let dropped = try dropResumableUpload(id: id, now: now, reason: "expired upload") else { return nil }
            let u = dropped.upload
            if u.fileID == nil {
                try recordEvent(.uploadExpired, organizationID: u.organizationID, now: now, data: [
                    ("organization_id", .text(u.organizationID)), ("user_id", .text(u.userID)), ("upload_id", .text(u.id)),
                    ("object_key", .text(u.objectKey)), ("original_filename", .text(u.originalFilename)),
                    ("length", .int(u.length)), ("offset", .int(u.offset)),
                ])
            }
            return u
        }
    }

    // MARK: Delivery

    /// Takes up to `limit` deliveries that are due at `endpoints`, oldest
    /// first, and hides them from other deliverers for `lease` seconds
    /// (a deliverer that dies mid-send leaves them to be retried then). An
    /// organization's delivery waits while an earlier one of the same
    /// organization is pending at the same endpoint, so each endpoint sees
    /// an organization's events in order; other organizations and other
    /// endpoints are not held up. PostgreSQL: rows another node is claiming
    /// are skipped, never sent twice at once.
    public func claimEventDeliveries(endpoints: [String], now: Int64, lease: Int64, limit: Int) throws -> [EventDelivery] {
        guard !endpoints.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: endpoints.count).joined(separator: ", ")
        // An idle deliverer asks every second: a read first, so it takes no write lock for nothing.
        let anyDue = try db.first("""
            SELECT 1 FROM event_deliveries WHERE status = 'pending' AND next_attempt_at <= ? AND endpoint IN (\(marks)) LIMIT 1
            """, [.int(now)] + endpoints.map { .text($0) }) { _ in true } ?? false
        guard anyDue else { return [] }
        return try db.writeTransaction {
            let due = try db.all("""
                SELECT d.event_id, d.endpoint, d.organization_id, e.type, e.payload, d.pending_since, d.attempts
                FROM event_deliveries d JOIN events e ON e.id = d.event_id
                WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND d.endpoint IN (\(marks))
                  AND NOT EXISTS (SELECT 1 FROM event_deliveries p JOIN events pe ON pe.id = p.event_id
                                  WHERE p.endpoint = d.endpoint AND p.organization_id = d.organization_id
                                    AND p.status = 'pending' AND pe.seq < e.seq)
                ORDER BY e.seq LIMIT ?\(db.claiming("d"))
                """, [.int(now)] + endpoints.map { .text($0) } + [.int(Int64(limit))]) {
                EventDelivery(eventID: $0.text(0), endpoint: $0.text(1), organizationID: $0.text(2), type: $0.text(3),
                              payload: $0.text(4), pendingSince: $0.int(5), attempts: $0.int(6))
            }
            for d in due {
                try db.run("UPDATE event_deliveries SET next_attempt_at = ? WHERE event_id = ? AND endpoint = ?",
                           [.int(now + lease), .text(d.eventID), .text(d.endpoint)])
            }
            return due
        }
    }

    public func recordEventDelivered(eventID: String, endpoint: String, now: Int64) throws {
        try db.writeTransaction {
            try db.run("""
                UPDATE event_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL
                WHERE event_id = ? AND endpoint = ?
                """, [.int(now), .text(eventID), .text(endpoint)])
        }
    }

    /// A failed attempt: tried again at `retryAt`, or (nil) given up on.
    public func recordEventFailure(eventID: String, endpoint: String, error: String, retryAt: Int64?) throws {
        try db.writeTransaction {
            try db.run("""
                UPDATE event_deliveries SET attempts = attempts + 1, failures = failures + 1, last_error = ?,
                    status = ?, next_attempt_at = ? WHERE event_id = ? AND endpoint = ?
                """, [.text(String(error.prefix(500))), .text(retryAt == nil ? "dead" : "pending"), .int(retryAt ?? 0),
                      .text(eventID), .text(endpoint)])
        }
    }

    // MARK: Administration

    /// The newest `limit` events (created at or after `since`), oldest
    /// first; `failedOnly`: those with a delivery that is dead or failing.
    public func events(since: Int64?, failedOnly: Bool, limit: Int) throws -> [EventRecord] {
        var filter = "1 = 1"
        var args: [SQLValue] = []
        if let since { filter += " AND created_at >= ?"; args.append(.int(since)) }
        if failedOnly {
            filter += " AND EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = events.id AND (d.status = 'dead' OR (d.status = 'pending' AND d.failures > 0)))"
        }
        return try db.readTransaction {
            var records = try db.all("SELECT id, type, organization_id, created_at, payload FROM events WHERE \(filter) ORDER BY seq DESC LIMIT ?",
                                     args + [.int(Int64(limit))]) {
                EventRecord(id: $0.text(0), type: $0.text(1), organizationID: $0.text(2), createdAt: $0.int(3), payload: $0.text(4), deliveries: [])
            }
            records.reverse()
            for index in records.indices {
                records[index].deliveries = try db.all("""
                    SELECT endpoint, status, attempts, failures, next_attempt_at, last_error, delivered_at FROM event_deliveries
                    WHERE event_id = ? ORDER BY endpoint
                    """, [.text(records[index].id)]) {
                    EventRecord.Delivery(endpoint: $0.text(0), status: $0.text(1), attempts: $0.int(2), failures: $0.int(3),
                                         nextAttemptAt: $0.int(4), lastError: $0.optionalText(5), deliveredAt: $0.optionalInt(6))
                }
            }
            return records
        }
    }

    /// Queues the events again for every configured endpoint that wants
    /// them (`ids`, or every event created at or after `since`), due now
    /// and with a fresh retry window. Returns the deliveries queued.
    public func replayEvents(ids: [String]?, since: Int64?, now: Int64) throws -> Int {
        try db.writeTransaction {
            var selected: [(id: String, type: String, organizationID: String)] = []
            let map = { (r: Row) in (id: r.text(0), type: r.text(1), organizationID: r.text(2)) }
            if let ids {
                for id in ids {
                    selected += try db.all("SELECT id, type, organization_id FROM events WHERE id = ?", [.text(id)], map)
                }
            } else {
                selected = try db.all("SELECT id, type, organization_id FROM events WHERE created_at >= ? ORDER BY seq",
                                      [.int(since ?? 0)], map)
            }
            var queued = 0
            for e in selected {
                guard let kind = DepotEvent.Kind(rawValue: e.type) else { continue }
                for endpoint in eventEndpoints where endpoint.wants(kind) {
                    try db.run("""
                        INSERT INTO event_deliveries (event_id, endpoint, organization_id, status, next_attempt_at, pending_since)
                        VALUES (?, ?, ?, 'pending', ?, ?)
                        ON CONFLICT (event_id, endpoint) DO UPDATE SET status = 'pending', next_attempt_at = excluded.next_attempt_at,
                            pending_since = excluded.pending_since, last_error = NULL, delivered_at = NULL
                        """, [.text(e.id), .text(endpoint.name), .text(e.organizationID), .int(now), .int(now)])
                    queued += 1
                }
            }
            return queued
        }
    }

    public func eventCounts() throws -> EventCounts {
        try db.first("""
            SELECT COALESCE(SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END), 0), COALESCE(SUM(failures), 0),
                   COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0)
            FROM event_deliveries
            """) { EventCounts(delivered: $0.int(0), retried: $0.int(1), dead: $0.int(2), pending: $0.int(3)) }
            ?? EventCounts(delivered: 0, retried: 0, dead: 0, pending: 0)
    }

    /// Forgets events older than `before` that no endpoint still waits for
    /// (their deliveries go with them). Returns how many went.
    public func pruneEvents(before: Int64) throws -> Int {
        try db.writeTransaction {
            let n = try db.first("""
                SELECT COUNT(*) FROM events WHERE created_at < ?
                AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = events.id AND d.status = 'pending')
                """, [.int(before)]) { $0.int(0) } ?? 0
            try db.run("""
                DELETE FROM events WHERE created_at < ?
                AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = events.id AND d.status = 'pending')
                """, [.int(before)])
            return Int(n)
        }
    }
}
