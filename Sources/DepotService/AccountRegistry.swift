import DepotAuth
import DepotDomain
import DepotHTTP
import DepotMetadata

/// Creates an organization and its user the first time a valid token names
/// them (the token's `acct` claim picks the default plan). The step after
/// authentication for every authenticated route; a read of the caller's own
/// file skips it (an owner exists). It asks the database every time (one
/// primary-key read when both exist): an account that an administrator
/// deleted (`depotctl user delete`, `org delete`) must come back empty on
/// its holder's very next request, whichever worker takes it, and no worker
/// can tell that from a memory of its own.
final class AccountRegistry {
    private let context: ServiceContext

    init(context: ServiceContext) { self.context = context }

    func ensure(_ identity: Identity) throws {
        let config = context.config
        try context.metadata.ensureAccount(organizationID: identity.organizationID, userID: identity.userID,
                                           accountType: identity.accountType,
                                           individualPlan: config.individualPlan, organizationPlan: config.organizationPlan,
                                           now: context.clock.seconds)
    }

    /// `ensure`, and the organization's account read with it (one database
    /// read), for the routes that answer from the account.
    func ensuredAccount(_ identity: Identity) throws -> Account {
        let config = context.config
        guard let account = try context.metadata.ensuredAccount(
            organizationID: identity.organizationID, userID: identity.userID, accountType: identity.accountType,
            individualPlan: config.individualPlan, organizationPlan: config.organizationPlan, now: context.clock.seconds)
        else { throw APIError.notFound }
        return account
    }
}
