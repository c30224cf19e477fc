import DepotAuth
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata

/// The caller's own files: `/storage/files` (also those shared with the
/// caller, or for admins the organization's, all or those shared with
/// everyone), and per object its metadata, a presigned download link, and
/// deletion, one by one or in bulk. Metadata and deletion also take a
/// workflow file's full key (its uploader, admins).
struct StorageFileRoutes {
    let context: ServiceContext
    let cleanup: StoreCleanup

    /// Names one bulk delete may carry.
    static let bulkDeleteLimit = 1000
    /// 1000 names of up to 1024 bytes each, JSON-escaped, fit.
    static let bulkDeleteMaxBodyBytes = 2 << 20

    func register(in table: inout RouteTable) {
        let objects = "/api/v1/storage/objects/{object_name}"
        table.authenticatedOwnerFirst("GET", "/api/v1/storage/files") { request, _, identity, ensureAccount in
            try listFiles(request, identity, ensureAccount: ensureAccount)
        }
        table.authenticated("POST", "/api/v1/storage/objects/delete") { request, _, identity in try deleteFiles(request, identity) }
        table.authenticatedOwnerFirst("GET", objects + "/metadata") { _, p, identity, ensureAccount in
            try fileMetadata(p["object_name"] ?? "", identity, ensureAccount: ensureAccount)
        }
        table.authenticated("GET", objects + "/presigned-url") { request, p, identity in
            try presignedURL(request, p["object_name"] ?? "", identity)
        }
        table.authenticated("DELETE", objects) { request, p, identity in try deleteFile(request, p["object_name"] ?? "", identity) }
    }

    func listFiles(_ request: HTTPRequest, _ identity: Identity, ensureAccount: () throws -> Void) throws -> HTTPResponse {
        let page = try request.intParameter("page", default: 1, range: 1...10_000_000)
        let pageSize = try request.intParameter("page_size", default: 20, range: 1...100)
        let result = try filesPage(request, identity, page: page, pageSize: pageSize)
        // A page with one of the caller's own files shows their account exists.
        if !result.files.contains(where: { $0.userID == identity.userID }) { try ensureAccount() }
        let totalPages = (result.total + Int64(pageSize) - 1) / Int64(pageSize)
        return .json(200, [
            "files": Views.files(result.files),
            "pagination": ["page": .int(Int64(page)), "page_size": .int(Int64(pageSize)), "total": .int(result.total), "total_pages": .int(totalPages)],
        ])
    }

    /// The page of files the listing's parameters ask for, and how many match.
    private func filesPage(_ request: HTTPRequest, _ identity: Identity, page: Int, pageSize: Int) throws -> (files: [StoredFile], total: Int64) {
        var category: FileCategory?
        if let c = request.query["category"] {
            guard let v = FileCategory(rawValue: c) else { throw APIError.invalidParameter("category must be data_source, profile_image or general.") }
            category = v
        }
        let sort: FileSort = try request.enumParameter("sort", default: .uploadedAt)
        let order: ListOrder = try request.enumParameter("order", default: .desc)
        let scope: FileScope = try request.enumParameter("scope", default: .own)
        // `shared_with=organization` narrows the organization scope to its
        // files shared with everyone; it means nothing for another scope.
        var sharedWithOrganization = false
        if let sharedWith = request.query["shared_with"] {
            guard sharedWith == "organization", scope == .organization else {
                throw APIError.invalidParameter("shared_with takes only organization, and only with scope=organization.")
            }
            sharedWithOrganization = true
        }
        let metadata = context.metadata, org = identity.organizationID
        let search = (request.query["search"] ?? "").trimmingCharacters(in: .whitespaces)
        guard search.count <= 200 else { throw APIError.invalidParameter("search is at most 200 characters.") }
        if scope == .organization && !identity.isAdmin {
            throw APIError.forbidden("Only organization admins may list every file of the organization.")
        }
        switch scope {
        case _ where !search.isEmpty:
            return try metadata.searchFiles(FileSearch(scope: scope, organizationID: org, userID: identity.userID, nameContains: search,
                                                       sharedWithOrganizationOnly: sharedWithOrganization, category: category,
                                                       sort: sort, order: order, page: page, pageSize: pageSize))
        case .own:
            return try metadata.listFiles(organizationID: org, userID: identity.userID, category: category,
                                          sort: sort, order: order, page: page, pageSize: pageSize)
        case .shared:
            return try metadata.listSharedFiles(organizationID: org, userID: identity.userID, category: category,
                                                sort: sort, order: order, page: page, pageSize: pageSize)
        case .organization:
            return sharedWithOrganization
                ? try metadata.listOrganizationSharedFiles(organizationID: org, category: category, sort: sort, order: order,
                                                           page: page, pageSize: pageSize)
                : try metadata.listOrganizationFiles(organizationID: org, category: category, sort: sort, order: order,
                                                     page: page, pageSize: pageSize)
        }
    }

    /// The owner's file by name or key; by full key, a workflow file for its
    /// uploader, a file shared with the caller, and any file of the
    /// organization for its admins.
    func fileMetadata(_ raw: String, _ identity: Identity, ensureAccount: () throws -> Void) throws -> HTTPResponse {
        if let object = ManagedObjectName(try OwnObjectName.reference(raw: raw, identity: identity), identity: identity) {
            guard let file = try context.metadata.file(key: object.target.key), object.admits(file, identity: identity) else {
                throw APIError.notFound
            }
            // The caller's own file shows their account exists (an admin's
            // read of a member's workflow file does not).
            if file.userID != identity.userID { try ensureAccount() }
            return .json(200, Views.file(file))
        }
        try ensureAccount()
        // Another member's file, named by its full key.
        let object = try OrganizationObjectName(raw: raw, identity: identity)
        if identity.isAdmin, let file = try context.metadata.file(key: object.key), file.organizationID == identity.organizationID {
            return .json(200, Views.file(file))
        }
        guard let file = try context.metadata.fileShared(key: object.key, organizationID: identity.organizationID,
                                                         userID: identity.userID) else { throw APIError.notFound }
        return .json(200, Views.file(file))
    }

    func deleteFile(_ request: HTTPRequest, _ raw: String, _ identity: Identity) throws -> HTTPResponse {
        guard let object = ManagedObjectName(try OwnObjectName.reference(raw: raw, identity: identity), identity: identity),
              let file = try context.metadata.deleteFiles(organizationID: identity.organizationID, [object.target],
                                                          now: context.clock.seconds).first else {
            throw APIError.notFound
        }
        // The record and its quota are gone; the object follows now, or at the
        // next clean-up pass if the store is down.
        cleanup.deleteQueuedObject(file.objectKey, requestID: request.requestID)
        return .noContent()
    }

    /// `POST /objects/delete` with `{"object_names": [...]}`: every name is
    /// judged before anything is deleted (one malformed name: 400, nothing
    /// deleted); the records go in one transaction, then the objects.
    /// Names are as `DELETE /objects/{name}` takes them, not percent-encoded.
    func deleteFiles(_ request: HTTPRequest, _ identity: Identity) throws -> HTTPResponse {
        let body = try JSONRequestBody.object(request, maxBytes: Self.bulkDeleteMaxBodyBytes)
        for key in body.keys where key != "object_names" {
            throw APIError.invalidParameter("Unknown field \(key); the only field is object_names.")
        }
        guard let list = body["object_names"] as? [Any] else {
            throw APIError.invalidField("object_names must be an array of object names.")
        }
        guard (1...Self.bulkDeleteLimit).contains(list.count) else {
            throw APIError.invalidField("object_names must hold from 1 to \(Self.bulkDeleteLimit) names.")
        }
        var names: [String] = []
        var seen = Set<String>()
        for item in list {
            guard let name = item as? String else { throw APIError.invalidField("object_names must hold strings only.") }
            if seen.insert(name).inserted { names.append(name) }
        }
        var targets: [(name: String, target: FileTarget?)] = []
        for name in names {
            targets.append((name, ManagedObjectName(try OwnObjectName.reference(decoded: name, identity: identity), identity: identity)?.target))
        }
        let removed = try context.metadata.deleteFiles(organizationID: identity.organizationID, targets.compactMap(\.target),
                                                       now: context.clock.seconds)
        let removedKeys = Set(removed.map(\.objectKey))
        var deleted: [JSONValue] = [], notFound: [JSONValue] = []
        for t in targets {
            if let key = t.target?.key, removedKeys.contains(key) { deleted.append(.string(t.name)) } else { notFound.append(.string(t.name)) }
        }
        cleanup.deleteQueuedObjects(removed.map(\.objectKey), requestID: request.requestID)
        return .json(200, ["deleted": .array(deleted), "not_found": .array(notFound)])
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

    private func ownFile(_ object: OwnObjectName, _ identity: Identity) throws -> StoredFile {
        guard let file = try context.metadata.file(key: object.key), file.userID == identity.userID,
              file.organizationID == identity.organizationID else { throw APIError.notFound }
        return file
    }
}
