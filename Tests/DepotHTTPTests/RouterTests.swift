import DepotHTTP
import Testing

@Suite struct RouterTests {
    /// The routes of Depot's storage API, each handler named by its route.
    var router: Router<String> {
        var r = Router<String>()
        let storage = "/api/v1/storage"
        r.add("GET", "\(storage)/files", "list")
        r.add("POST", "\(storage)/upload", "upload")
        r.add("GET", "\(storage)/buckets/{bucket}/objects", "bucket-objects")
        r.add("GET", "\(storage)/objects/{object_name}/metadata", "metadata")
        r.add("GET", "\(storage)/objects/{object_name}/presigned-url", "presign")
        r.add("DELETE", "\(storage)/objects/{object_name}", "delete")
        r.add("GET", "\(storage)/quota", "quota")
        r.add("POST", "\(storage)/quota/recalculate", "recalculate")
        r.add("GET", "/api/v1/objects/download", "download")
        r.add("HEAD", "/api/v1/objects/download", "download-head")
        return r
    }

    /// What the router found, flattened for comparison.
    enum Outcome: Equatable {
        case found(String, [String: String])
        case notAllowed([String])
        case notFound
    }

    func route(_ method: String, _ path: String) -> Outcome {
        switch router.match(method: method, rawPath: path) {
        case .found(let handler, _, _, let parameters): return .found(handler, parameters)
        case .methodNotAllowed(let allowed): return .notAllowed(allowed)
        case .notFound: return .notFound
        }
    }

    @Test func literalRouteMatches() {
        // GET /api/v1/storage/files reaches the listing handler with no parameters.
        #expect(route("GET", "/api/v1/storage/files") == .found("list", [:]))
    }

    @Test func parametersAreBound() {
        // {bucket} and {object_name} are bound from their segments.
        #expect(route("GET", "/api/v1/storage/buckets/depot/objects") == .found("bucket-objects", ["bucket": "depot"]))
        #expect(route("GET", "/api/v1/storage/objects/a_20261130_101500_a1b2c3d4.pdf/metadata")
            == .found("metadata", ["object_name": "a_20261130_101500_a1b2c3d4.pdf"]))
        #expect(route("DELETE", "/api/v1/storage/objects/x.txt") == .found("delete", ["object_name": "x.txt"]))
    }

    @Test func matchReportsThePattern() {
        // The matched pattern is reported, for metrics that must not explode with object names.
        guard case .found(_, _, let pattern, _) = router.match(method: "GET", rawPath: "/api/v1/storage/objects/x/metadata") else {
            Issue.record("no match")
            return
        }
        #expect(pattern == "/api/v1/storage/objects/{object_name}/metadata")
    }

    @Test func encodedSegmentsAreHandedOverRaw() {
        // An encoded full key stays one raw segment: %2F neither splits the path nor is decoded by the router.
        let raw = "organizations%2Fo%2Ffiles%2Fu%2Fa%20b.txt"
        #expect(route("GET", "/api/v1/storage/objects/\(raw)/metadata") == .found("metadata", ["object_name": raw]))
        #expect(route("DELETE", "/api/v1/storage/objects/%2e%2e") == .found("delete", ["object_name": "%2e%2e"]))
        #expect(route("DELETE", "/api/v1/storage/objects/..") == .found("delete", ["object_name": ".."]))
    }

    @Test func unencodedSlashInANameIsAnotherPath() {
        // A raw "/" inside a name makes more segments, so no object route matches.
        #expect(route("DELETE", "/api/v1/storage/objects/organizations/o/files/u/x.txt") == .notFound)
        #expect(route("GET", "/api/v1/storage/objects/a/b/metadata") == .notFound)
    }

    @Test func unknownPathsAreNotFound() {
        // Paths without a route are 404 whatever the method, including near misses.
        for path in ["/", "", "/api/v1/storage", "/api/v1/storage/files/", "/api/v1/storage//files", "/api/v1/Storage/files",
                     "/api/v1/storage/filesx", "api/v1/storage/files", "/api/v2/storage/files"] {
            #expect(route("GET", path) == .notFound, "\(path)")
        }
    }

    @Test func knownPathWithWrongMethodIsNotAllowed() {
        // A path that exists with another method is 405 listing the methods it accepts.
        #expect(route("POST", "/api/v1/storage/files") == .notAllowed(["GET"]))
        #expect(route("GET", "/api/v1/storage/upload") == .notAllowed(["POST"]))
        #expect(route("PUT", "/api/v1/storage/objects/x.txt") == .notAllowed(["DELETE"]))
        #expect(route("DELETE", "/api/v1/objects/download") == .notAllowed(["GET", "HEAD"]))
    }

    @Test func methodsAreCaseSensitive() {
        // "get" is not GET (RFC 9110 method names are case-sensitive).
        #expect(route("get", "/api/v1/storage/files") == .notAllowed(["GET"]))
    }

    @Test func headFallsBackToGet() {
        // HEAD on a GET-only route reaches the GET handler.
        #expect(route("HEAD", "/api/v1/storage/files") == .found("list", [:]))
        #expect(route("HEAD", "/api/v1/storage/objects/x/metadata") == .found("metadata", ["object_name": "x"]))
    }

    @Test func explicitHeadRouteWins() {
        // Where a HEAD route exists, HEAD goes there, not to GET.
        #expect(route("HEAD", "/api/v1/objects/download") == .found("download-head", [:]))
        #expect(route("GET", "/api/v1/objects/download") == .found("download", [:]))
    }

    @Test func headOnAPostOnlyRouteIsNotAllowed() {
        // HEAD falls back to GET only: a POST-only path answers 405.
        #expect(route("HEAD", "/api/v1/storage/upload") == .notAllowed(["POST"]))
    }

    @Test func emptyRouterFindsNothing() {
        // A router without routes answers 404 to everything.
        let empty = Router<Int>()
        guard case .notFound = empty.match(method: "GET", rawPath: "/") else {
            Issue.record("expected notFound")
            return
        }
    }
}
