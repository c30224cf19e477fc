/// What a backup copy holds, as checked on the copy itself.
public struct BackupReport {
    public var schemaVersion: Int
    public var fileRecords: Int64
    public var bytes: Int64
    public var seconds: Double
}
