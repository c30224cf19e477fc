import Foundation
import Testing

@Suite struct SystemRoutesTests {
    @Test func healthReportsBothDependencies() throws {
        // 200 while database and store answer; 503 with Retry-After when the store is down.
        let t = try TestApp()
        let ok = t.get("/api/v1/health")
        #expect(ok.status == 200 && ok.json["status"] as? String == "ok")
        t.store.isDown = true
        let down = t.get("/api/v1/health")
        #expect(down.status == 503)
        #expect(down.json["store"] as? String == "error" && down.json["database"] as? String == "ok")
        #expect(down.header("Retry-After") == "5")
    }

    @Test func healthNamesTheVirusScannerWhenOneIsConfigured() throws {
        // No scanner: no field. A scanner down: 503 unless uploads pass unscanned (fail_open).
        let plain = try TestApp()
        #expect(plain.get("/api/v1/health").json["antivirus"] == nil)
        for failOpen in [false, true] {
            let scanner = FakeScanner()
            let t = try TestApp(extraConfig: "\n[antivirus]\nclamd_socket = /nonexistent/clamd.ctl\nfail_open = \(failOpen)\n", scanner: scanner)
            let up = t.get("/api/v1/health")
            #expect(up.status == 200 && up.json["antivirus"] as? String == "ok")
            scanner.isDown = true
            let down = t.get("/api/v1/health")
            #expect(down.status == (failOpen ? 200 : 503), "fail_open \(failOpen)")
            #expect(down.json["antivirus"] as? String == "error" && down.json["store"] as? String == "ok")
            #expect(down.json["status"] as? String == (failOpen ? "ok" : "unavailable"))
        }
    }

    @Test func metricsCountRequestsByRouteAndStatus() throws {
        // Requests are counted under their route pattern, not the raw path.
        let t = try TestApp()
        _ = t.get("/api/v1/storage/quota")
        let metrics = t.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        #expect(metrics.text.contains("depot_requests_total{method=\"GET\",route=\"/api/v1/storage/quota\",status=\"401\"} 1"))
        #expect(metrics.text.contains("depot_reservations 0"))
    }

    @Test func unknownRoutesAndMethodsAreJSONErrors() throws {
        // 404 for an unknown path; 405 naming the allowed methods for a known one.
        let t = try TestApp()
        let missing = t.get("/api/v1/nothing")
        #expect(missing.status == 404 && missing.errorCode == "not_found")
        let wrong = t.request("PUT", "/api/v1/storage/quota", token: t.token())
        #expect(wrong.status == 405 && wrong.errorCode == "method_not_allowed")
        #expect(wrong.header("Allow") == "GET")
    }

    @Test func headAnswersTheGetRouteWithoutABody() throws {
        // HEAD on a GET route has the GET's status and Content-Length but no body.
        let t = try TestApp()
        let head = t.request("HEAD", "/api/v1/health")
        #expect(head.status == 200)
        #expect(head.response.body.isEmpty)
        #expect(Int(head.header("Content-Length") ?? "") ?? 0 > 0)
    }

    @Test func accessLogNamesTheUserAlsoWhenTheRequestFails() throws {
        // An authenticated request that fails still carries its user to the access log, never to the client.
        let t = try TestApp()
        let response = t.get("/api/v1/storage/objects/missing.csv/metadata", token: t.token())
        #expect(response.status == 404)
        #expect(response.response.logUserID == TestApp.user)
        let anonymous = t.get("/api/v1/storage/quota")
        #expect(anonymous.response.logUserID == nil)
    }
}
