/// Usage per member of an organization (its admins' view): the members who
/// hold files or reservations, largest `usedBytes` first, at most `limit`.
public struct MemberUsageReport: Equatable {
    public var members: [MemberUsage]
    /// More members hold files or reservations than `members` lists.
    public var truncated: Bool
    public static let limit = 100

    public init(members: [MemberUsage], truncated: Bool) {
        self.members = members
        self.truncated = truncated
    }
}
