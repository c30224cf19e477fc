import Foundation

public enum QuotaRefusal: Error, Equatable {
    case fileTooLarge(limit: Int64)
    case quotaExceeded(available: Int64)
    case tooManyFiles(limit: Int64)
}
