import DepotDomain

/// One page of the files in a listing's scope whose original name contains
/// `nameContains` (case-insensitive), for the console's search box;
/// `sharedWithOrganizationOnly` narrows the organization scope to its files
/// shared with everyone.
public struct FileSearch: Equatable {
    public var scope: FileScope
    public var organizationID: String
    public var userID: String
    public var nameContains: String
    public var sharedWithOrganizationOnly: Bool
    public var category: FileCategory?
    public var sort: FileSort
    public var order: ListOrder
    public var page: Int
    public var pageSize: Int

    public init(scope: FileScope, organizationID: String, userID: String, nameContains: String, sharedWithOrganizationOnly: Bool = false,
                category: FileCategory? = nil,
                sort: FileSort = .uploadedAt, order: ListOrder = .desc, page: Int = 1, pageSize: Int = 20) {
        self.scope = scope
        self.organizationID = organizationID
        self.userID = userID
        self.nameContains = nameContains
        self.sharedWithOrganizationOnly = sharedWithOrganizationOnly
        self.category = category
        self.sort = sort
        self.order = order
        self.page = page
        self.pageSize = pageSize
    }
}
