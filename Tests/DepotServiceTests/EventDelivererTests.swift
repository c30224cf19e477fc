import DepotCrypto
import DepotEncoding
import DepotMetadata
@testable import DepotService
import Foundation
import Testing

@Suite struct EventDelivererTests {
    static let secret = "whsec-0123456789abcdef0123456789"
    static let webhook = "\n[events]\nretry_base_seconds = 10\nmax_age_seconds = 100\n[webhook.hooks]\nurl = http://127.0.0.1:9/hook\nsecret_file = webhook.key\n"

    private func app() throws -> TestApp {
        try TestApp(extraConfig: Self.webhook, files: ["webhook.key": Self.secret + "\n"])
    }

    /// What a receiver got: headers and body of each POST.
    final class Receiver {
        var received: [(headers: [(String, String)], body: [UInt8])] = []
        var answers: [Int] = []
        func send(_ endpoint: EventsConfiguration.Endpoint, _ headers: [(String, String)], _ body: [UInt8]) throws -> Int {
            received.append((headers, body))
            return answers.isEmpty ? 204 : answers.removeFirst()
        }
    }

    @Test func anUploadReachesTheEndpointSignedAndVerifiable() throws {
        // POST /upload records file.created; one round sends it with a signature the receiver can recompute.
        let t = try app()
        #expect(t.config.events.endpoints.map(\.name) == ["hooks"])
        _ = try t.uploadFile()
        let receiver = Receiver()
        let deliverer = EventDeliverer(events: t.config.events, metadata: t.metadata, send: receiver.send)
        #expect(try deliverer.deliverDue { 1_900_000_000 } == 1)
        let got = try #require(receiver.received.first)
        let signature = try #require(got.headers.first { $0.0 == "Depot-Signature" }?.1)
        let parts = Dictionary(uniqueKeysWithValues: signature.split(separator: ",").map { p -> (String, String) in
            let kv = p.split(separator: "=", maxSplits: 1)
            return (String(kv[0]), String(kv[1]))
        })
        let expected = HMAC.sha256(key: Array(Self.secret.utf8), message: Array("\(parts["t"]!).".utf8) + got.body)
        #expect(parts["v1"] == Hex.encode(expected))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(got.body)) as? [String: Any])
        #expect(json["type"] as? String == "file.created")
        #expect(got.headers.contains { $0 == ("Depot-Event-Type", "file.created") })
        // Delivered: nothing more to send.
        #expect(try deliverer.deliverDue { 1_900_000_001 } == 0)
        #expect(try t.metadata.eventCounts() == EventCounts(delivered: 1, retried: 0, dead: 0, pending: 0))
    }

    @Test func failuresBackOffExponentiallyThenSucceed() throws {
        // 500, 500, 500 then 204: retried 10, 20, 40 seconds apart; the 4th try delivers.
        let t = try app()
        _ = try t.uploadFile()
        let receiver = Receiver()
        receiver.answers = [500, 500, 500]
        let deliverer = EventDeliverer(events: t.config.events, metadata: t.metadata, send: receiver.send)
        let start: Int64 = 1_800_000_000
        var tries: [Int64] = []
        for second in stride(from: start, through: start + 80, by: 1) {
            if try deliverer.deliverDue(now: { second }) > 0 { tries.append(second - start) }
        }
        #expect(tries == [0, 10, 30, 70])
        #expect(try t.metadata.eventCounts() == EventCounts(delivered: 1, retried: 3, dead: 0, pending: 0))
    }

    @Test func aDeliveryFailingPastItsMaximumAgeIsDead() throws {
        // max_age_seconds = 100: the retry that would fall after it is not scheduled.
        let t = try app()
        _ = try t.uploadFile()
        let deliverer = EventDeliverer(events: t.config.events, metadata: t.metadata) { _, _, _ in throw HTTPFailure() }
        for second in stride(from: Int64(1_800_000_000), through: 1_800_000_200, by: 5) { try deliverer.deliverDue { second } }
        #expect(try t.metadata.eventCounts().dead == 1)
        let listed = try t.metadata.events(since: nil, failedOnly: true, limit: 10)
        #expect(listed.first?.deliveries.first?.lastError == "connection refused")
    }

    struct HTTPFailure: Error, CustomStringConvertible { var description: String { "connection refused" } }

    @Test func aConfigurationRejectsUnknownTypesAndShortSecrets() throws {
        // types must name event types; the secret must be at least 16 bytes.
        #expect(throws: ConfigurationError.self) {
            try TestApp(extraConfig: Self.webhook + "types = file.created,file.exploded\n", files: ["webhook.key": Self.secret])
        }
        #expect(throws: ConfigurationError.self) { try TestApp(extraConfig: Self.webhook, files: ["webhook.key": "short"]) }
    }
}

@Suite struct EventMetricsTests {
    @Test func metricsCountTheOutboxDeliveries() throws {
        // /metrics reads delivered, retried, dead and pending from the outbox.
        let t = try TestApp(extraConfig: EventDelivererTests.webhook, files: ["webhook.key": EventDelivererTests.secret])
        _ = try t.uploadFile()
        let text = t.get("/metrics").text
        for line in ["depot_events_delivered 0", "depot_events_retried 0", "depot_events_dead 0", "depot_events_pending 1"] {
            #expect(text.contains("\n" + line + "\n"), "\(line)")
        }
    }
}
