import DepotCrypto
import DepotEncoding
import DepotMetadata
import DepotStore
import Foundation

/// Sends the outbox's events to the configured endpoints: each delivery
/// POSTed with its signature, retried with exponential backoff until
/// `maxAgeSeconds` after it was queued, then marked dead. At-least-once: a
/// delivery is marked delivered only after a 2xx, so a crash between the two
/// sends it again. Runs in a process of its own (forked by the supervisor),
/// never in a request worker, so a slow endpoint never slows a request.
public final class EventDeliverer {
    /// Sends one body to one endpoint; returns the HTTP status.
    public typealias Send = (_ endpoint: EventsConfiguration.Endpoint, _ headers: [(String, String)], _ body: [UInt8]) throws -> Int

    private let events: EventsConfiguration
    private let metadata: MetadataStore
    private let send: Send
    /// Deliveries taken per endpoint per round.
    static let batch = 20

    public init(events: EventsConfiguration, metadata: MetadataStore, send: @escaping Send) {
        self.events = events
        self.metadata = metadata
        self.send = send
    }

    /// A deliverer that POSTs with libcurl under the configured timeouts.
    public convenience init(events: EventsConfiguration, metadata: MetadataStore) {
        let poster = HTTPPoster(connectTimeoutSeconds: events.connectTimeoutSeconds, timeoutSeconds: events.timeoutSeconds)
        self.init(events: events, metadata: metadata) { endpoint, headers, body in
            try poster.post(url: endpoint.url, headers: headers, body: body)
        }
    }

    /// `Depot-Signature`: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
    public static func signature(secret: [UInt8], timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=" + Hex.encode(HMAC.sha256(key: secret, message: Array("\(timestamp).".utf8) + body))
    }

    /// One round: for each endpoint, the deliveries due now, in order. An
    /// endpoint that fails is left for this round (its other claimed
    /// deliveries wait out their lease), so it costs the others at most one
    /// timeout. Returns how many attempts were made.
    @discardableResult
    public func deliverDue(now: () -> Int64) throws -> Int {
        var attempts = 0
        // Long enough for a whole batch to time out; a deliverer that dies holds them no longer.
        let lease = Int64(Self.batch * (events.timeoutSeconds + events.connectTimeoutSeconds)) + 30
        for endpoint in events.endpoints {
            let due = try metadata.claimEventDeliveries(endpoints: [endpoint.name], now: now(), lease: lease, limit: Self.batch)
            for delivery in due {
                attempts += 1
                let body = Array(delivery.payload.utf8)
                let headers = [("Content-Type", "application/json"), ("User-Agent", "Depot-Webhooks/1"),
                               ("Depot-Event-Id", delivery.eventID), ("Depot-Event-Type", delivery.type),
                               ("Depot-Signature", Self.signature(secret: endpoint.secret, timestamp: now(), body: body))]
                var failure: String?
                do {
                    let status = try send(endpoint, headers, body)
                    if !(200...299).contains(status) { failure = "HTTP \(status)" }
                } catch {
                    failure = String(describing: error)
                }
                let t = now()
                guard let failure else {
                    try metadata.recordEventDelivered(eventID: delivery.eventID, endpoint: endpoint.name, now: t)
                    continue
                }
                let retryAt = t + events.retryDelay(afterFailures: delivery.attempts + 1)
                let giveUp = retryAt - delivery.pendingSince > events.maxAgeSeconds
                try metadata.recordEventFailure(eventID: delivery.eventID, endpoint: endpoint.name, error: failure,
                                                retryAt: giveUp ? nil : retryAt)
                Log.warning(giveUp ? "event delivery given up" : "event delivery failed",
                            [("endpoint", endpoint.name), ("event", delivery.eventID), ("error", failure)])
                break
            }
        }
        return attempts
    }

    /// Delivers until `shouldStop` says so, sleeping `pollMilliseconds`
    /// when nothing was due; a database failure is logged and waited out.
    public func run(shouldStop: () -> Bool) {
        while !shouldStop() {
            var attempts = 0
            do {
                attempts = try deliverDue { Int64(Date().timeIntervalSince1970) }
            } catch {
                Log.error("event delivery round failed", [("error", String(describing: error))])
                sleep(1)
            }
            if attempts == 0 { usleep(useconds_t(events.pollMilliseconds * 1000)) }
        }
    }
}
