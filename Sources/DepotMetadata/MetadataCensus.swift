/// What a database holds, counted: rows per table and the usage totals that
/// must agree after a copy (`depotctl migrate-data`).
public struct MetadataCensus: Equatable {
    public var rows: [String: Int64]
    /// Sums over the organizations' counters.
    public var usedBytes: Int64, fileCount: Int64, reservedBytes: Int64, reservedFiles: Int64
    /// Sums over the file records and the usage counters.
    public var fileBytes: Int64, counterBytes: Int64, counterFiles: Int64
}
