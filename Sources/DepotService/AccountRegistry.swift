import DepotAuth
import DepotDomain
import DepotMetadata

/// Creates an organization and its user the first time a valid token names
/// them (the token's `acct` claim picks the default plan). The step after
/// authentication for every authenticated route; remembers who it ensured,
/// so later requests from the same account cost a set lookup.
final class AccountRegistry {
    private let context: ServiceContext
    private var ensured: Set<AccountID> = []
    private static let cacheLimit = 4096

    private struct AccountID: Hashable {
        let organizationID: String
        let userID: String
    }

    init(context: ServiceContext) { self.context = context }

    func ensure(_ identity: Identity) throws {
        let id = AccountID(organizationID: identity.organizationID, userID: identity.userID)
        if ensured.contains(id) { return }
        let config = context.config
        try context.metadata.ensureAccount(organizationID: identity.organizationID, userID: identity.userID,
                                           accountType: identity.accountType,
                                           individualPlan: config.individualPlan, organizationPlan: config.organizationPlan,
                                           now: context.clock.seconds)
        if ensured.count >= Self.cacheLimit { ensured.removeAll(keepingCapacity: true) }
        // Only once that succeeded, so a remembered account always exists.
        ensured.insert(id)
    }
}
