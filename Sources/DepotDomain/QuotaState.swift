import Foundation

/// Organization-wide figures the quota decision is made on.
public struct QuotaState: Equatable {
    public var usedBytes: Int64
    public var reservedBytes: Int64
    public var fileCount: Int64
    public var reservedFiles: Int64

    public init(usedBytes: Int64, reservedBytes: Int64, fileCount: Int64, reservedFiles: Int64) {
        self.usedBytes = usedBytes
        self.reservedBytes = reservedBytes
        self.fileCount = fileCount
        self.reservedFiles = reservedFiles
    }
}
