/// Opens the metadata backend a deployment is configured with. The one
/// place that names a backend type; everything else holds a `MetadataStore`.
public enum MetadataStores {
    public static func open(databasePath: String, busyTimeoutMilliseconds: Int32) throws -> MetadataStore {
        try SQLiteMetadataStore(path: databasePath, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }
}
