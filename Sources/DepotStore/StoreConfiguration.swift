import Foundation

/// Where the object store is and how to talk to it.
public struct StoreConfiguration {
    /// `http://host:port` or `https://host[:port]`, no path (path-style addressing is used).
    public var endpoint: String
    public var region: String
    public var bucket: String
    public var accessKey: String
    public var secretKey: String
    /// PEM CA bundle used to verify an https endpoint (system bundle when nil).
    public var caFile: String?
    public var connectTimeoutSeconds: Int = 5
    /// Whole-request limit; large uploads need it generous.
    public var requestTimeoutSeconds: Int = 300
    /// A transfer slower than 1 byte/s for this long is abandoned.
    public var lowSpeedTimeoutSeconds: Int = 30

    public init(endpoint: String, region: String, bucket: String, accessKey: String, secretKey: String,
                caFile: String? = nil, connectTimeoutSeconds: Int = 5, requestTimeoutSeconds: Int = 300,
                lowSpeedTimeoutSeconds: Int = 30) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.caFile = caFile
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.lowSpeedTimeoutSeconds = lowSpeedTimeoutSeconds
    }
}

extension StoreConfiguration: CustomStringConvertible {
    /// Never shows the secret key.
    public var description: String {
        "StoreConfiguration(endpoint: \(endpoint), region: \(region), bucket: \(bucket), accessKey: \(accessKey))"
    }
}
