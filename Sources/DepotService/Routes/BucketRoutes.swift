import DepotAuth
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotStore

/// `/storage/buckets` and the S3-style listing of the caller's own folder in
/// a bucket, straight from the store.
struct BucketRoutes {
    let context: ServiceContext

    func register(in table: inout RouteTable) {
        table.authenticated("GET", "/api/v1/storage/buckets") { _, _, _ in try listBuckets() }
        table.authenticated("GET", "/api/v1/storage/buckets/{bucket}/objects") { request, p, identity in
            try listObjects(request, bucket: p["bucket"] ?? "", identity)
        }
    }

    func listBuckets() throws -> HTTPResponse {
        let buckets = try context.metadata.buckets()
        return .json(200, ["buckets": .array(buckets.map {
            ["name": .string($0.name), "created_at": .string(Timestamps.rfc3339($0.createdAt))]
        })])
    }

    func listObjects(_ request: HTTPRequest, bucket rawBucket: String, _ identity: Identity) throws -> HTTPResponse {
        guard let bucket = PercentEncoding.decode(rawBucket), bucket == context.store.bucket else { throw APIError.notFound }
        let limit = try request.intParameter("limit", default: 100, range: 1...1000)
        let folder = ObjectKeys.userFolder(organizationID: identity.organizationID, userID: identity.userID)
        var prefix = folder
        if let p = request.query["prefix"], !p.isEmpty {
            guard !p.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" }) else {
                throw APIError.invalidParameter("prefix contains characters no key can hold.")
            }
            // A prefix is either relative to the caller's folder or a full key
            // prefix; one that leaves the folder matches nothing of theirs.
            if p.hasPrefix("organizations/") {
                guard p.hasPrefix(folder) || folder.hasPrefix(p) else {
                    return .json(200, ["objects": [], "next_continuation_token": nil])
                }
                prefix = p.count > folder.count ? p : folder
            } else {
                prefix = folder + p
            }
        }
        // The store's token is passed through: it cannot widen the listing,
        // because the prefix always stays inside the caller's folder.
        let token = request.query["continuation_token"].flatMap { $0.isEmpty ? nil : $0 }
        let page: StoreListPage
        do {
            page = try context.store.listObjects(prefix: prefix, continuationToken: token, maxKeys: limit)
        } catch StoreError.rejected {
            throw APIError.invalidParameter("continuation_token is not valid.")
        }
        // Whatever the store answers, only keys under the caller's folder leave
        // this process (fail closed on a store that ignores the prefix).
        let objects: [JSONValue] = page.objects.filter { $0.key.hasPrefix(folder) }.map { o in
            ["key": .string(o.key), "size": .int(o.size), "etag": .string(o.etag),
             // An undated object stays undated: never the epoch.
             "last_modified": .optional(o.lastModified.map { Timestamps.rfc3339(Int64($0.timeIntervalSince1970)) }),
             // The store's listing has no types; the record knows the real one.
             "content_type": .optional((try? context.metadata.file(key: o.key))??.contentType ?? o.contentType)]
        }
        return .json(200, ["objects": .array(objects), "next_continuation_token": .optional(page.nextContinuationToken)])
    }
}
