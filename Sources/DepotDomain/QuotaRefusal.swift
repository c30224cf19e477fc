import Foundation

public enum QuotaRefusal: Error, Equatable {
    case fileTooLarge(limit: Int64)
    case quotaExceeded(available: Int64)
    case tooManyFiles(limit: Int64)
    /// The member's own share of the organization's quota is used up.
    case memberQuotaExceeded(available: Int64)
}
