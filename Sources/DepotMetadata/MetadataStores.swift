/// Opens the metadata backend a deployment is configured with. The one
/// place that names a backend type; everything else holds a `MetadataStore`.
public enum MetadataStores {
    public static func open(_ location: DatabaseLocation, busyTimeoutMilliseconds: Int32) throws -> MetadataStore {
        switch location {
        case .sqlite(let path):
            return try SQLiteMetadataStore(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        case .postgresql(let url, let password):
            return try PostgreSQLMetadataStore(url: url, password: password, lockTimeoutMilliseconds: busyTimeoutMilliseconds)
        }
    }

    /// Copies one installation's metadata into a new, migrated database of
    /// any backend and compares the two: the census of each, equal when the
    /// copy is complete. Both must be at the schema this binary writes.
    public static func copy(from source: DatabaseLocation, to target: DatabaseLocation,
                            busyTimeoutMilliseconds: Int32) throws -> (source: MetadataCensus, target: MetadataCensus) {
        guard let from = try open(source, busyTimeoutMilliseconds: busyTimeoutMilliseconds) as? SQLMetadataStore,
              let to = try open(target, busyTimeoutMilliseconds: busyTimeoutMilliseconds) as? SQLMetadataStore else {
            throw DatabaseError.failed("unsupported backend")
        }
        try from.requireCurrentSchema()
        try to.migrate()
        try from.copyEverything(to: to)
        return (try from.census(), try to.census())
    }
}
