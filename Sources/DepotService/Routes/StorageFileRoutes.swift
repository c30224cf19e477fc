import DepotAuth
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata

/// The caller's own files: `/storage/files`, and per object its metadata,
/// a presigned download link, and deletion.
struct StorageFileRoutes {
    let context: ServiceContext
    let cleanup: StoreCleanup

    func register(in table: inout RouteTable) {
        let objects = "/api/v1/storage/objects/{object_name}"
        table.authenticated("GET", "/api/v1/storage/files") { request, _, identity in try listFiles(request, identity) }
        table.authenticated("GET", objects + "/metadata") { _, p, identity in try fileMetadata(p["object_name"] ?? "", identity) }
        table.authenticated("GET", objects + "/presigned-url") { request, p, identity in
            try presignedURL(request, p["object_name"] ?? "", identity)
        }
        table.authenticated("DELETE", objects) { request, p, identity in try deleteFile(request, p["object_name"] ?? "", identity) }
    }

    func listFiles(_ request: HTTPRequest, _ identity: Identity) throws -> HTTPResponse {
        let page = try request.intParameter("page", default: 1, range: 1...10_000_000)
        let pageSize = try request.intParameter("page_size", default: 20, range: 1...100)
        var category: FileCategory?
        if let c = request.query["category"] {
            guard let v = FileCategory(rawValue: c) else { throw APIError.invalidParameter("category must be data_source, profile_image or general.") }
            category = v
        }
        let sort: FileSort = try request.enumParameter("sort", default: .uploadedAt)
        let order: ListOrder = try request.enumParameter("order", default: .desc)
        let result = try context.metadata.listFiles(organizationID: identity.organizationID, userID: identity.userID, category: category,
                                                    sort: sort, order: order, page: page, pageSize: pageSize)
        let totalPages = (result.total + Int64(pageSize) - 1) / Int64(pageSize)
        return .json(200, [
            "files": .array(result.files.map(Views.file)),
            "pagination": ["page": .int(Int64(page)), "page_size": .int(Int64(pageSize)), "total": .int(result.total), "total_pages": .int(totalPages)],
        ])
    }

    func fileMetadata(_ raw: String, _ identity: Identity) throws -> HTTPResponse {
        return .json(200, Views.file(try ownFile(raw, identity)))
    }

    func deleteFile(_ request: HTTPRequest, _ raw: String, _ identity: Identity) throws -> HTTPResponse {
        let object = try OwnObjectName(raw: raw, identity: identity)
        guard let file = try context.metadata.deleteFile(organizationID: identity.organizationID, userID: identity.userID,
                                                         objectName: object.name, now: context.clock.seconds) else {
            throw APIError.notFound
        }
        // The record and its quota are gone; the object follows now, or at the
        // next clean-up pass if the store is down.
        cleanup.deleteQueuedObject(file.objectKey, requestID: request.requestID)
        return .noContent()
    }

    func presignedURL(_ request: HTTPRequest, _ raw: String, _ identity: Identity) throws -> HTTPResponse {
        let object = try OwnObjectName(raw: raw, identity: identity)
        let expiresIn = try request.intParameter("expires_in", default: 3600, range: 1...604_800)
        let disposition: Disposition = try request.enumParameter("type", default: .attachment)
        let file = try ownFile(object, identity)
        let expires = context.clock.seconds + Int64(expiresIn)
        let signature = context.links.signature(objectKey: file.objectKey, disposition: disposition, expires: expires)
        // Recorded so its owner can list and revoke it (DownloadLinkRoutes).
        let id = try context.metadata.createDownloadLink(DownloadLink(
            id: UUIDs.random(), organizationID: identity.organizationID, userID: identity.userID, objectKey: file.objectKey,
            disposition: disposition, signatureDigest: DownloadLinkSigner.digest(signature: signature),
            createdAt: context.clock.seconds, expiresAt: expires))
        let url = "\(context.config.publicURL)/api/v1/objects/download?objectKey=\(PercentEncoding.encode(file.objectKey))"
            + "&type=\(disposition.rawValue)&expires=\(expires)&signature=\(signature)"
        return .json(200, [
            "id": .string(id), "url": .string(url), "expires_at": .string(Timestamps.rfc3339(expires)), "expires_in": .int(Int64(expiresIn)),
        ])
    }

    private func ownFile(_ raw: String, _ identity: Identity) throws -> StoredFile {
        try ownFile(try OwnObjectName(raw: raw, identity: identity), identity)
    }

    private func ownFile(_ object: OwnObjectName, _ identity: Identity) throws -> StoredFile {
        guard let file = try context.metadata.file(key: object.key), file.userID == identity.userID,
              file.organizationID == identity.organizationID else { throw APIError.notFound }
        return file
    }
}
