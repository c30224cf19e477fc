import DepotAuth
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

extension DepotService {
    /// Decodes and judges a route's `{object_name}`: 400 for names no client
    /// can legitimately hold, 404 for anything outside the caller's folder.
    func ownObject(_ raw: String, _ identity: Identity) throws -> (key: String, name: String) {
        guard let decoded = PercentEncoding.decode(raw) else {
            throw APIError.badRequest("The object name is not valid percent-encoded UTF-8.", code: "invalid_object_name")
        }
        do {
            switch try ObjectKeys.resolve(decoded, organizationID: identity.organizationID, userID: identity.userID) {
            case .own(let key, let name): return (key, name)
            case .foreign: throw APIError.notFound
            }
        } catch ObjectNameError.invalid(let why) {
            throw APIError.badRequest(why, code: "invalid_object_name")
        }
    }

    func listFiles(_ request: HTTPRequest) throws -> HTTPResponse {
        let identity = try authenticate(request)
        let page = try intParameter(request, "page", default: 1, range: 1...10_000_000)
        let pageSize = try intParameter(request, "page_size", default: 20, range: 1...100)
        var category: FileCategory?
        if let c = request.query["category"] {
            guard let v = FileCategory(rawValue: c) else { throw APIError.invalidParameter("category must be data_source, profile_image or general.") }
            category = v
        }
        let sort: FileSort = try enumParameter(request, "sort", default: .uploadedAt)
        let order: ListOrder = try enumParameter(request, "order", default: .desc)
        let result = try metadata.listFiles(organizationID: identity.organizationID, userID: identity.userID, category: category,
                                            sort: sort, order: order, page: page, pageSize: pageSize)
        let totalPages = (result.total + Int64(pageSize) - 1) / Int64(pageSize)
        return HTTPResponse.json(200, [
            "files": .array(result.files.map(Views.file)),
            "pagination": ["page": .int(Int64(page)), "page_size": .int(Int64(pageSize)), "total": .int(result.total), "total_pages": .int(totalPages)],
        ])
    }

    func fileMetadata(_ request: HTTPRequest, _ raw: String) throws -> HTTPResponse {
        let identity = try authenticate(request)
        let object = try ownObject(raw, identity)
        guard let file = try metadata.file(key: object.key), file.userID == identity.userID,
              file.organizationID == identity.organizationID else { throw APIError.notFound }
        return HTTPResponse.json(200, Views.file(file))
    }

    func deleteFile(_ request: HTTPRequest, _ raw: String) throws -> HTTPResponse {
        let identity = try authenticate(request)
        let object = try ownObject(raw, identity)
        guard let file = try metadata.deleteFile(organizationID: identity.organizationID, userID: identity.userID,
                                                 objectName: object.name, now: Int64(Date().timeIntervalSince1970)) else {
            throw APIError.notFound
        }
        // The record and its quota are gone; the object follows now, or at the
        // next clean-up pass if the store is down.
        do {
            try store.deleteObject(key: file.objectKey)
            try metadata.completePendingDelete(objectKey: file.objectKey)
        } catch {
            Log.warning("store delete deferred to clean-up", [("request_id", request.requestID), ("error", String(describing: error))])
        }
        return HTTPResponse.noContent()
    }

    func presignedURL(_ request: HTTPRequest, _ raw: String) throws -> HTTPResponse {
        let identity = try authenticate(request)
        let object = try ownObject(raw, identity)
        let expiresIn = try intParameter(request, "expires_in", default: 3600, range: 1...604_800)
        let disposition: Disposition = try enumParameter(request, "type", default: .attachment)
        guard let file = try metadata.file(key: object.key), file.userID == identity.userID else { throw APIError.notFound }
        let expires = Int64(Date().timeIntervalSince1970) + Int64(expiresIn)
        let signature = links.signature(objectKey: file.objectKey, disposition: disposition, expires: expires)
        let url = "\(config.publicURL)/api/v1/objects/download?objectKey=\(PercentEncoding.encode(file.objectKey))"
            + "&type=\(disposition.rawValue)&expires=\(expires)&signature=\(signature)"
        return HTTPResponse.json(200, [
            "url": .string(url), "expires_at": .string(Timestamps.rfc3339(expires)), "expires_in": .int(Int64(expiresIn)),
        ])
    }

    func listBucketObjects(_ request: HTTPRequest, bucket rawBucket: String) throws -> HTTPResponse {
        let identity = try authenticate(request)
        guard let bucket = PercentEncoding.decode(rawBucket), bucket == config.store.bucket else { throw APIError.notFound }
        let limit = try intParameter(request, "limit", default: 100, range: 1...1000)
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
            page = try store.listObjects(prefix: prefix, continuationToken: token, maxKeys: limit)
        } catch StoreError.rejected {
            throw APIError.invalidParameter("continuation_token is not valid.")
        }
        let objects: [JSONValue] = page.objects.map { o in
            ["key": .string(o.key), "size": .int(o.size), "etag": .string(o.etag),
             "last_modified": .string(Timestamps.rfc3339(Int64(o.lastModified?.timeIntervalSince1970 ?? 0))),
             // The store's listing has no types; the record knows the real one.
             "content_type": .optional((try? metadata.file(key: o.key))??.contentType ?? o.contentType)]
        }
        let next: JSONValue = .optional(page.nextContinuationToken)
        return HTTPResponse.json(200, ["objects": .array(objects), "next_continuation_token": next])
    }
}

