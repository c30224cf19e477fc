/// One member's part of the organization's storage: their files (from the
/// usage counters) and the room their unfinished uploads hold (live reservations).
public struct MemberUsage: Equatable {
    public var userID: String
    public var usedBytes: Int64
    public var fileCount: Int64
    public var reservedBytes: Int64

    public init(userID: String, usedBytes: Int64, fileCount: Int64, reservedBytes: Int64) {
        self.userID = userID
        self.usedBytes = usedBytes
        self.fileCount = fileCount
        self.reservedBytes = reservedBytes
    }
}
