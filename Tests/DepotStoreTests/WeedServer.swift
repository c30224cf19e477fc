import Foundation
@testable import DepotStore
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway SeaweedFS (`weed mini`) on free loopback ports, in its own temp dir.
/// Always call `stop()` (use `defer`); it kills the process by PID and removes its files.
final class WeedServer {
    static let accessKey = "depot-test-access"
    static let secretKey = "depot-test-secret-0123456789"

    let directory: URL
    let ports: [String: Int]
    let process: Process
    private var stopped = false

    var s3Port: Int { ports["s3.port"]! }
    var endpoint: String { "http://127.0.0.1:\(s3Port)" }

    /// Why integration tests are skipped, or nil when `weed` is on PATH.
    static let unavailableReason: String? = weedPath() == nil ? "weed (SeaweedFS) is not on PATH" : nil

    static func weedPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/weed"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    func configuration(bucket: String = "depot", region: String = "us-east-1", connectTimeout: Int = 2,
                       requestTimeout: Int = 60) -> StoreConfiguration {
        StoreConfiguration(endpoint: endpoint, region: region, bucket: bucket,
                           accessKey: Self.accessKey, secretKey: Self.secretKey,
                           connectTimeoutSeconds: connectTimeout, requestTimeoutSeconds: requestTimeout)
    }

    /// Picks `count` distinct free TCP ports on 127.0.0.1 (all held open until every one is chosen).
    static func freePorts(_ count: Int) -> [Int] {
        var sockets: [Int32] = []
        var ports: [Int] = []
        defer { sockets.forEach { close($0) } }
        while ports.count < count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            sockets.append(fd)
            if bound {
                let port = Int(UInt16(bigEndian: address.sin_port))
                // gRPC ports of weed default to +10000: we set every one explicitly.
                if !ports.contains(port) { ports.append(port) }
            }
        }
        return ports
    }

    struct StartFailure: Error, CustomStringConvertible { let description: String }

    /// Starts `weed mini` with an S3 identity from a `-s3.config` JSON file and
    /// waits until S3 answers (typically under 1 s).
    static func start(httpsCert: (cert: String, key: String)? = nil) throws -> WeedServer {
        guard let weed = weedPath() else { throw StartFailure(description: "weed is not on PATH") }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("depot-store-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"),
                                                withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("log"),
                                                withIntermediateDirectories: true)
        let identities = """
        {"identities":[{"name":"depot","credentials":[{"accessKey":"\(accessKey)","secretKey":"\(secretKey)"}],
          "actions":["Admin","Read","Write","List","Tagging"]}]}
        """
        let configPath = directory.appendingPathComponent("s3.json").path
        try identities.write(toFile: configPath, atomically: true, encoding: .utf8)

        let names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
                     "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "s3.port.https"]
        let free = freePorts(names.count)
        var ports: [String: Int] = [:]
        for (name, port) in zip(names, free) { ports[name] = port }
        if httpsCert == nil { ports["s3.port.https"] = nil }

        var arguments = [
            "-logdir=\(directory.appendingPathComponent("log").path)", "mini",
            "-dir=\(directory.appendingPathComponent("data").path)",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
            "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-filer.localSocket=\(directory.appendingPathComponent("filer.sock").path)",
            "-s3.localSocket=\(directory.appendingPathComponent("s3.sock").path)",
            "-s3.config=\(configPath)",
        ]
        for (name, port) in ports.sorted(by: { $0.key < $1.key }) { arguments.append("-\(name)=\(port)") }
        if let httpsCert {
            arguments.append("-s3.cert.file=\(httpsCert.cert)")
            arguments.append("-s3.key.file=\(httpsCert.key)")
        }

        let process = Process()
        // setpriv --pdeathsig: weed dies with the test process even if it crashes before stop().
        if access("/usr/bin/setpriv", X_OK) == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--pdeathsig", "KILL", weed] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: weed)
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["GOMEMLIMIT"] = "256MiB"
        process.environment = environment
        let output = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = output
        process.standardError = output
        try process.run()

        let server = WeedServer(directory: directory, ports: ports, process: process)
        do {
            try server.waitUntilReady()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    private init(directory: URL, ports: [String: Int], process: Process) {
        self.directory = directory
        self.ports = ports
        self.process = process
    }

    private func waitUntilReady() throws {
        let probe = S3Client(configuration(bucket: "readiness-probe", connectTimeout: 1, requestTimeout: 2))
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process.isRunning else {
                throw StartFailure(description: "weed mini exited with status \(process.terminationStatus)")
            }
            do {
                try probe.ping()
                return
            } catch StoreError.notFound {
                return  // S3 answers (the probe bucket does not exist)
            } catch StoreError.rejected {
                return  // S3 answers
            } catch {
                usleep(50_000)
            }
        }
        throw StartFailure(description: "weed mini did not answer within 30 s")
    }

    /// Kills the process by PID (SIGKILL: weed's own shutdown takes >10 s) and removes its files.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
        // weed puts its gRPC unix sockets in /tmp whatever TMPDIR says.
        for (name, port) in ports {
            let component = name.split(separator: ".").first.map(String.init) ?? name
            let kind = name.hasSuffix(".grpc") ? "\(component)-grpc" : component
            unlink("/tmp/seaweedfs-\(kind)-\(port).sock")
        }
    }

    deinit { stop() }
}
