import DepotDomain
import DepotMetadata
import Foundation

/// `[events]` and the `[webhook.NAME]` endpoints: where events go and how
/// hard the deliverer tries (docs/depot.conf.example).
public struct EventsConfiguration {
    /// One receiver: its URL, the secret that signs what it is sent, and
    /// the event types it wants (nil: all).
    public struct Endpoint {
        public var name: String
        public var url: String
        public var secret: [UInt8]
        public var kinds: Set<DepotEvent.Kind>?

        public var subscription: EventEndpoint { EventEndpoint(name: name, kinds: kinds) }
    }

    public var endpoints: [Endpoint] = []
    /// The first retry waits this long; each next one twice as long, up to `retryMaxSeconds`.
    public var retryBaseSeconds: Int64 = 10
    public var retryMaxSeconds: Int64 = 3600
    /// A delivery still failing this long after it was queued is given up (dead).
    public var maxAgeSeconds: Int64 = 24 * 3600
    /// Per attempt: connecting, and the whole request. Short, so one slow
    /// receiver holds the deliverer briefly.
    public var connectTimeoutSeconds: Int = 3
    public var timeoutSeconds: Int = 10
    /// How often an idle deliverer looks for due events.
    public var pollMilliseconds: Int = 1000
    /// `depotctl gc` forgets events older than this that no endpoint waits for.
    public var keepSeconds: Int64 = 30 * 24 * 3600

    public init() {}

    public var subscriptions: [EventEndpoint] { endpoints.map(\.subscription) }

    /// The delay before retry number `failures` (1: the first retry).
    public func retryDelay(afterFailures failures: Int64) -> Int64 {
        var delay = retryBaseSeconds
        var n: Int64 = 1
        while n < failures && delay < retryMaxSeconds { delay *= 2; n += 1 }
        return min(delay, retryMaxSeconds)
    }

    static func load(_ file: ConfigFile, configPath: String) throws -> EventsConfiguration {
        var c = EventsConfiguration()
        if let v = try file.int("events", "retry_base_seconds") {
            guard v >= 0 else { throw ConfigurationError("[events] retry_base_seconds must not be negative") }
            c.retryBaseSeconds = v
        }
        if let v = try file.int("events", "retry_max_seconds") {
            guard v >= 1 else { throw ConfigurationError("[events] retry_max_seconds must be at least 1") }
            c.retryMaxSeconds = v
        }
        if let v = try file.int("events", "max_age_seconds") {
            guard v >= 1 else { throw ConfigurationError("[events] max_age_seconds must be at least 1") }
            c.maxAgeSeconds = v
        }
        if let v = try file.int("events", "timeout_seconds") {
            guard (1...300).contains(v) else { throw ConfigurationError("[events] timeout_seconds must be from 1 to 300") }
            c.timeoutSeconds = Int(v)
            c.connectTimeoutSeconds = min(c.connectTimeoutSeconds, Int(v))
        }
        if let v = try file.int("events", "poll_ms") {
            guard (10...60_000).contains(v) else { throw ConfigurationError("[events] poll_ms must be from 10 to 60000") }
            c.pollMilliseconds = Int(v)
        }
        if let v = try file.int("events", "keep_days") {
            guard v >= 1 else { throw ConfigurationError("[events] keep_days must be at least 1") }
            c.keepSeconds = v * 86400
        }
        for subscription in try file.eventEndpoints() {
            let section = "webhook." + subscription.name
            guard let url = file.string(section, "url") else { throw ConfigurationError("[\(section)] url is required") }
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw ConfigurationError("[\(section)] url must be http:// or https://")
            }
            guard let path = try file.secretPath(section, "secret_file", configPath: configPath) else {
                throw ConfigurationError("[\(section)] secret_file is required")
            }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("[\(section)] secret_file: cannot read \(file.string(section, "secret_file") ?? path)")
            }
            let secret = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            guard secret.count >= 16 else { throw ConfigurationError("[\(section)] the secret must be at least 16 bytes") }
            c.endpoints.append(Endpoint(name: subscription.name, url: url, secret: secret, kinds: subscription.kinds))
        }
        return c
    }
}

extension ConfigFile {
    /// The `[webhook.NAME]` sections' names and `types`, sorted by name,
    /// read without their secrets (what the outbox needs to queue deliveries).
    public func eventEndpoints() throws -> [EventEndpoint] {
        var out: [EventEndpoint] = []
        for section in sections.keys.sorted() where section.hasPrefix("webhook.") {
            let name = String(section.dropFirst("webhook.".count))
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ConfigurationError("[\(section)]: an endpoint name is letters, digits, - and _")
            }
            var kinds: Set<DepotEvent.Kind>?
            if let types = string(section, "types") {
                var set = Set<DepotEvent.Kind>()
                for t in types.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !t.isEmpty {
                    guard let k = DepotEvent.Kind(rawValue: t) else {
                        throw ConfigurationError("[\(section)] types: unknown event type \(t) (\(DepotEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    set.insert(k)
                }
                kinds = set
            }
            out.append(EventEndpoint(name: name, kinds: kinds))
        }
        return out
    }
}
