/// One user's files as recorded (not from the counters), by category.
public struct UserSummary {
    public var createdAt: Int64
    public var files: Int64
    public var bytes: Int64
    public var lastUploadAt: Int64?
    public var byCategory: [(category: String, files: Int64, bytes: Int64)]
}
