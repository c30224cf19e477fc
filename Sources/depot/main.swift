import DepotMetadata
import DepotService
import Foundation

// depot [--config PATH] [--check]
// The configuration path also comes from $DEPOT_CONFIG; secrets never come
// from the command line.
var configPath = ProcessInfo.processInfo.environment["DEPOT_CONFIG"] ?? DepotConfiguration.defaultPath
var checkOnly = false
var arguments = CommandLine.arguments.dropFirst()
while let a = arguments.popFirst() {
    switch a {
    case "--config", "-c":
        guard let p = arguments.popFirst() else { FileHandle.standardError.write("--config needs a path\n".data(using: .utf8)!); exit(2) }
        configPath = p
    case "--check":
        checkOnly = true
    case "--help", "-h":
        print("usage: depot [--config PATH] [--check]\n  Starts the FastCGI supervisor and its workers (config: $DEPOT_CONFIG or \(DepotConfiguration.defaultPath)).\n  --check  validate the configuration and database, then exit")
        exit(0)
    default:
        FileHandle.standardError.write("unknown argument \(a)\n".data(using: .utf8)!)
        exit(2)
    }
}

do {
    let config = try DepotConfiguration.load(path: configPath)
    // The schema is brought up to date once, before any worker exists.
    do {
        let metadata = try config.openMetadata()
        let (from, to) = try metadata.migrate()
        if from != to { Log.info("database migrated", [("from", String(from)), ("to", String(to))]) }
        try metadata.seedPlans(config.plans)
        try metadata.registerBucket(config.store.bucket, now: Int64(Date().timeIntervalSince1970))
    }
    if checkOnly {
        print("configuration OK")
        exit(0)
    }
    let supervisor = try Supervisor(config: config, configPath: configPath)
    exit(supervisor.run())
} catch {
    Log.error("cannot start", [("error", String(describing: error))])
    exit(1)
}
