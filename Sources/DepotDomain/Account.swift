import Foundation

public struct Account: Equatable {
    public var organizationID: String
    public var accountType: AccountKind
    public var plan: Plan
    public var quota: QuotaState

    public init(organizationID: String, accountType: AccountKind, plan: Plan, quota: QuotaState) {
        self.organizationID = organizationID
        self.accountType = accountType
        self.plan = plan
        self.quota = quota
    }
}
