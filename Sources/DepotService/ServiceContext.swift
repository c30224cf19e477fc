import DepotAntivirus
import DepotDomain
import DepotMetadata
import DepotStore
import Foundation

/// What every route group is given: the configuration, the clock, the
/// metadata, the object store and the virus scanner behind their interfaces, the shared metrics,
/// and this worker's identity as the owner of reservations. Long-lived, one
/// per worker; it holds no per-request state.
public final class ServiceContext {
    public let config: DepotConfiguration
    public let metadata: MetadataStore
    public let store: ObjectStore
    public let clock: WallClock
    /// The virus scanner every upload goes through (`[antivirus]`); nil: none.
    let scanner: MalwareScanner?
    let metrics: Metrics
    let links: DownloadLinkSigner
    /// This worker as the owner of its reservations (read once: /proc I/O).
    let owner: (pid: Int32, start: String)

    public init(config: DepotConfiguration, metadata: MetadataStore, store: ObjectStore, clock: WallClock = .system,
                counters: SharedCounters = SharedCounters(), scanner: MalwareScanner? = nil) {
        self.config = config
        self.scanner = scanner ?? config.antivirus?.scanner
        self.metadata = metadata
        self.store = store
        self.clock = clock
        metrics = Metrics(counters: counters)
        links = DownloadLinkSigner(secret: config.linkSigningSecret)
        owner = ProcessIdentity.current
    }

    /// Opens the configured database (checking its schema: workers never
    /// migrate) and store client. Call after fork: neither may be shared
    /// between processes.
    public static func open(config: DepotConfiguration, counters: SharedCounters = SharedCounters()) throws -> ServiceContext {
        let metadata = try config.openMetadata()
        try metadata.requireCurrentSchema()
        return ServiceContext(config: config, metadata: metadata, store: S3Client(config.store), counters: counters)
    }
}

extension DepotConfiguration {
    /// The metadata backend this configuration names.
    /// Its changes queue deliveries for the configured event endpoints.
    public func openMetadata() throws -> MetadataStore {
        let metadata = try MetadataStores.open(database, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        metadata.eventEndpoints = events.subscriptions
        return metadata
    }
}
