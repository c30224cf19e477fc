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
}
