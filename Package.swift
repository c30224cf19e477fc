// swift-tools-version:6.0
import PackageDescription

// Each target does one job; C libraries come in through systemLibrary targets
// so the crypto is OpenSSL's, the store client libcurl's and the databases SQLite's and libpq's.
let package = Package(
    name: "Depot",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "depot", targets: ["depot"]),
        .executable(name: "depotctl", targets: ["depotctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CPostgreSQL", path: "Sources/CPostgreSQL"),
        .systemLibrary(name: "CProcess", path: "Sources/CProcess"),

        // Byte-level text codecs: hex, base64url, percent-encoding, zero-padded digits.
        .target(name: "DepotEncoding"),
        // Hashes, MACs, HKDF, signatures, randomness: thin Swift over libcrypto.
        .target(name: "DepotCrypto", dependencies: ["CCrypto"]),
        // JWT verification and claims.
        .target(name: "DepotAuth", dependencies: ["DepotCrypto", "DepotDomain", "DepotEncoding"]),
        // HTTP request/response values, routing, JSON errors, multipart parsing.
        .target(name: "DepotHTTP", dependencies: ["DepotEncoding"]),
        // FastCGI responder: turns FastCGI requests into DepotHTTP values and back.
        .target(name: "DepotFastCGI", dependencies: ["DepotHTTP"]),
        // Pure rules: object keys, names, plans, quotas, dispositions, signed links.
        .target(name: "DepotDomain", dependencies: ["DepotCrypto", "DepotEncoding"]),
        // Every SQL statement of the project lives here.
        .target(name: "DepotMetadata", dependencies: ["CSQLite", "CPostgreSQL", "DepotDomain"]),
        // S3 client: SigV4, SSE-C, multipart uploads, over libcurl.
        .target(name: "DepotStore", dependencies: ["CCurl", "DepotCrypto", "DepotEncoding"]),
        // Virus scanning: clamd's INSTREAM protocol over its unix socket.
        .target(name: "DepotAntivirus"),
        // Configuration and the API handlers that tie the layers together.
        .target(name: "DepotService", dependencies: [
            "CProcess", "DepotAntivirus", "DepotHTTP", "DepotAuth", "DepotDomain", "DepotMetadata", "DepotStore", "DepotCrypto", "DepotEncoding",
        ]),
        .executableTarget(name: "depot", dependencies: ["CProcess", "DepotEncoding", "DepotFastCGI", "DepotService", "DepotMetadata"]),
        .executableTarget(name: "depotctl", dependencies: [
            "DepotService", "DepotCrypto", "DepotEncoding",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Helpers shared by the test targets and the fuzz targets (scripts/fuzz.sh).
        .target(name: "DepotTestSupport", path: "Tests/DepotTestSupport"),
        .testTarget(name: "DepotEncodingTests", dependencies: ["DepotEncoding"]),
        .testTarget(name: "DepotCryptoTests", dependencies: ["DepotCrypto", "DepotEncoding"]),
        .testTarget(name: "DepotAuthTests", dependencies: ["DepotAuth", "DepotCrypto", "DepotDomain", "DepotEncoding"]),
        .testTarget(name: "DepotFastCGITests", dependencies: ["DepotFastCGI", "DepotHTTP", "DepotTestSupport"]),
        .testTarget(name: "DepotHTTPTests", dependencies: ["DepotHTTP", "DepotEncoding", "DepotTestSupport"]),
        .testTarget(name: "DepotDomainTests", dependencies: ["DepotDomain", "DepotEncoding"]),
        .testTarget(name: "DepotStoreTests", dependencies: ["DepotStore", "DepotCrypto", "DepotEncoding"]),
        .testTarget(name: "DepotMetadataTests", dependencies: ["DepotMetadata", "DepotDomain", "DepotTestSupport"]),
        .testTarget(name: "DepotAntivirusTests", dependencies: ["DepotAntivirus", "DepotTestSupport"]),
        .testTarget(name: "DepotServiceTests", dependencies: [
            "DepotAntivirus", "DepotService", "DepotAuth", "DepotCrypto", "DepotDomain", "DepotEncoding", "DepotHTTP", "DepotMetadata", "DepotStore",
        ]),
    ],
    swiftLanguageModes: [.v5]
)
