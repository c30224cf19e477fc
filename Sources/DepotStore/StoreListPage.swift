import Foundation

public struct StoreListPage {
    public let objects: [StoreObjectInfo]
    /// nil on the last page.
    public let nextContinuationToken: String?

    public init(objects: [StoreObjectInfo], nextContinuationToken: String?) {
        self.objects = objects
        self.nextContinuationToken = nextContinuationToken
    }
}
