import DepotAuth
import DepotDomain
import DepotHTTP

/// Quota and usage: `/storage/quota`, `/storage/usage`,
/// `/storage/quota/recalculate` and `/storage/members` (admins), and
/// `/objects/storage-usage`.
struct UsageRoutes {
    let context: ServiceContext

    func register(in table: inout RouteTable) {
        table.authenticated("GET", "/api/v1/storage/usage") { _, _, identity in try usage(identity) }
        table.authenticatedAccount("GET", "/api/v1/storage/quota") { _, _, _, account in .json(200, Views.quota(account)) }
        table.authenticated("POST", "/api/v1/storage/quota/recalculate") { _, _, identity in try recalculate(identity) }
        table.authenticatedAccount("GET", "/api/v1/storage/members") { _, _, identity, account in try members(identity, account) }
        table.authenticated("GET", "/api/v1/objects/storage-usage") { request, _, identity in try storageUsage(request, identity) }
    }

    func usage(_ identity: Identity) throws -> HTTPResponse {
        return .json(200, Views.usage(try report(identity)))
    }

    func recalculate(_ identity: Identity) throws -> HTTPResponse {
        guard identity.isAdmin else { throw APIError.forbidden("Only organization administrators may recalculate usage.") }
        let before = try report(identity)
        try context.metadata.recalculate(organizationID: identity.organizationID)
        let after = try report(identity)
        return .json(200, ["before": Views.usage(before), "after": Views.usage(after)])
    }

    /// Usage per member, for the organization's admins. Like every admin
    /// route, the token's `role` decides, whatever the account type: an
    /// individual account's admin token sees its one member.
    func members(_ identity: Identity, _ account: Account) throws -> HTTPResponse {
        guard identity.isAdmin else { throw APIError.forbidden("Only organization administrators may see usage per member.") }
        let report = try context.metadata.memberUsage(organizationID: identity.organizationID)
        return .json(200, Views.members(report, memberQuotaBytes: account.plan.memberQuotaBytes))
    }

    func storageUsage(_ request: HTTPRequest, _ identity: Identity) throws -> HTTPResponse {
        var createdBy: String?
        if let c = request.query["createdBy"] {
            guard UUIDs.isValid(c) else { throw APIError.invalidParameter("createdBy must be a UUID.") }
            guard identity.isAdmin else { throw APIError.forbidden("Only organization administrators may filter by user.") }
            createdBy = c.lowercased()
        }
        let report = try context.metadata.storageUsage(organizationID: identity.organizationID, createdBy: createdBy)
        return .json(200, Views.storageUsage(report, organizationID: identity.organizationID))
    }

    private func report(_ identity: Identity) throws -> UsageReport {
        guard let report = try context.metadata.usage(organizationID: identity.organizationID, userID: identity.userID) else {
            throw APIError.notFound
        }
        return report
    }
}
