import CProcess
import DepotEncoding
import DepotFastCGI
import DepotMetadata
import DepotService
import Foundation

/// Forks each pool's single-threaded workers onto its listening socket,
/// replaces those that die (into the same pool), drains them on SIGTERM and
/// swaps them on SIGHUP. With event endpoints configured it also forks one
/// event deliverer, apart from the pools (a slow receiver never holds a
/// worker), replaced like a worker when it dies. Runs no Dispatch queue or
/// Task, so fork() is safe here.
final class Supervisor {
    private var config: DepotConfiguration
    private let configPath: String
    private var listeners: [Pool: (descriptor: Int32, ownedPath: String?)] = [:]
    private var workers: [pid_t: Pool] = [:]
    /// The event deliverer's pid, while one runs.
    private var deliverer: pid_t?
    private var recentCrashes: [TimeInterval] = []
    private var stopping = false
    /// Made before the first fork so every worker shares it.
    private let counters = SharedCounters()

    init(config: DepotConfiguration, configPath: String) throws {
        self.config = config
        self.configPath = configPath
        let passed = Supervisor.systemdSockets()
        for pool in Pool.allCases {
            if let fd = passed[pool] {
                listeners[pool] = (fd, nil)
            } else {
                let path = pool.listen(config)
                guard path != "systemd" else {
                    throw ConfigurationError("\(pool == .api ? "[server]" : "[uploads]") listen = systemd but systemd passed no \(pool.rawValue) socket (LISTEN_FDS)")
                }
                listeners[pool] = (try Supervisor.openListener(path: path, mode: config.socketMode), path)
            }
        }
    }

    /// The sockets systemd passed (LISTEN_FDS from fd 3), by their
    /// FileDescriptorName= (`api`, `upload`); unnamed ones in that order.
    static func systemdSockets() -> [Pool: Int32] {
        let env = ProcessInfo.processInfo.environment
        guard let count = env["LISTEN_FDS"].flatMap({ Int($0) }), count >= 1,
              env["LISTEN_PID"].flatMap({ pid_t($0) }).map({ $0 == getpid() }) ?? true else { return [:] }
        let names = (env["LISTEN_FDNAMES"] ?? "").split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var sockets: [Pool: Int32] = [:]
        for index in 0..<count {
            let named = index < names.count ? Pool(rawValue: names[index]) : nil
            // Unnamed (or named otherwise, e.g. systemd's default, the unit name): by position.
            guard let pool = named ?? (index < Pool.allCases.count ? Pool.allCases[index] : nil) else { continue }
            if sockets[pool] == nil { sockets[pool] = Int32(3 + index) }
        }
        return sockets
    }

    /// A unix socket of our own at `path` (a stale socket file is replaced).
    static func openListener(path: String, mode: Int) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ConfigurationError("socket(): \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ConfigurationError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        // A socket file left by a previous run is stale; anything else is not ours to remove.
        var info = stat()
        if lstat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw ConfigurationError("\(path) exists and is not a socket") }
            unlink(path)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw ConfigurationError("bind(\(path)): \(String(cString: strerror(errno)))") }
        chmod(path, mode_t(mode))
        guard listen(fd, 1024) == 0 else { throw ConfigurationError("listen(): \(String(cString: strerror(errno)))") }
        return fd
    }

    func run() -> Int32 {
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&signals, s) }
        sigprocmask(SIG_BLOCK, &signals, nil)

        Log.info("supervisor starting", [("workers", String(Pool.api.workerCount(config))),
                                         ("upload_workers", String(Pool.upload.workerCount(config))), ("pid", String(getpid()))])
        spawnAll()

        var timeout = timespec(tv_sec: 1, tv_nsec: 0)
        while true {
            var info = siginfo_t()
            let signal = sigtimedwait(&signals, &info, &timeout)
            switch signal {
            case SIGCHLD, -1:
                reap()
            case SIGTERM, SIGINT:
                return shutdown()
            case SIGHUP:
                reload()
            default:
                break
            }
            if stopping { return shutdown() }
        }
    }

    private func spawnAll() {
        for pool in Pool.allCases {
            for _ in 0..<pool.workerCount(config) { spawn(pool) }
        }
        spawnDeliverer()
    }

    /// The deliverer holds no listening socket and reads its work from the
    /// database, so any number of nodes may each run one.
    private func spawnDeliverer() {
        guard !config.events.endpoints.isEmpty else { return }
        deliverer = forkChild {
            for socket in listeners.values { close(socket.descriptor) }
            return Deliverer.run(config: config)
        }
    }

    private func spawn(_ pool: Pool) {
        guard let listener = listeners[pool] else { return }
        let pid = forkChild {
            // A worker holds its own pool's socket only: the pools stay apart
            // (an API worker can never take an upload), and which pool a
            // process serves shows in /proc/PID/fd.
            for (other, socket) in listeners where other != pool && socket.descriptor != listener.descriptor {
                close(socket.descriptor)
            }
            return Worker.run(config: config, listenDescriptor: listener.descriptor, counters: counters)
        }
        if let pid { workers[pid] = pool }
    }

    /// Forks a child that runs `body` with every signal unblocked and dies
    /// with this process, then exits with `body`'s status; the child's pid,
    /// or nil (logged) when fork failed.
    private func forkChild(_ body: () -> Int32) -> pid_t? {
        fflush(stdout)
        fflush(stderr)
        let pid = fork()
        if pid == 0 {
            var none = sigset_t()
            sigemptyset(&none)
            sigprocmask(SIG_SETMASK, &none, nil)
            depot_die_with_parent()
            exit(body())
        }
        if pid < 0 {
            Log.error("fork failed", [("error", String(cString: strerror(errno)))])
            return nil
        }
        return pid
    }

    /// Collects exited children; replaces current workers that died, with a
    /// pause when they crash in a loop (a bad config or a missing database).
    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            if pid == deliverer {
                deliverer = nil
                Log.warning("event deliverer exited", [("pid", String(pid)), ("status", String(status))])
                if stopping { continue }
                let exitedCleanly = (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
                if !exitedCleanly { sleep(1) }
                spawnDeliverer()
                continue
            }
            guard let pool = workers.removeValue(forKey: pid) else { continue }
            let exitedCleanly = (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
            Log.warning("worker exited", [("pid", String(pid)), ("pool", pool.rawValue), ("status", String(status))])
            if stopping { continue }
            if !exitedCleanly {
                let now = Date().timeIntervalSince1970
                recentCrashes = recentCrashes.filter { now - $0 < 10 } + [now]
                if recentCrashes.count > 10 { sleep(1) }
            }
            spawn(pool)
            counters.noteWorkerRestart()
            Log.info("worker replaced", [("workers", String(workers.count))])
        }
    }

    /// Re-reads the configuration; on success starts new workers and drains
    /// the old ones, on failure keeps running as before.
    private func reload() {
        do {
            let fresh = try DepotConfiguration.load(path: configPath)
            config = fresh
            let old = workers
            workers = [:]
            // The old deliverer goes first: two of one node's never run at once.
            if let pid = deliverer { kill(pid, SIGTERM); waitpid(pid, nil, 0); deliverer = nil }
            spawnAll()
            for pid in old.keys { kill(pid, SIGTERM) }
            Log.info("configuration reloaded", [("workers", String(Pool.api.workerCount(config))),
                                                ("upload_workers", String(Pool.upload.workerCount(config)))])
        } catch {
            Log.error("reload refused: configuration invalid; keeping the running one", [("error", String(describing: error))])
        }
    }

    /// SIGTERM to every worker (they finish the request in hand), wait up to
    /// 30 s, then SIGKILL what is left.
    private func shutdown() -> Int32 {
        stopping = true
        Log.info("supervisor stopping", [("workers", String(workers.count))])
        for pid in workers.keys { kill(pid, SIGTERM) }
        // An attempt cut short is sent again after a restart (at-least-once).
        if let pid = deliverer { kill(pid, SIGTERM); waitpid(pid, nil, 0); deliverer = nil }
        let deadline = Date().addingTimeInterval(30)
        while !workers.isEmpty && Date() < deadline {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 { workers.removeValue(forKey: pid); continue }
            if pid < 0 && errno == ECHILD { workers.removeAll(); break }
            usleep(20_000)
        }
        for pid in workers.keys { kill(pid, SIGKILL); waitpid(pid, nil, 0) }
        for listener in listeners.values { if let path = listener.ownedPath { unlink(path) } }
        Log.info("supervisor stopped")
        return 0
    }
}

enum Worker {
    static func run(config: DepotConfiguration, listenDescriptor: Int32, counters: SharedCounters) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let service: DepotApplication
        do {
            service = try DepotApplication(config: config, counters: counters)
        } catch {
            Log.error("worker cannot start", [("error", String(describing: error))])
            sleep(1)
            return 1
        }
        let connection = FastCGIConnection(listenDescriptor: listenDescriptor)
        // SIGTERM and SIGUSR1 mean "finish the request in hand, then exit".
        // Held back while a request runs, they cannot interrupt its reads
        // (the handler does not restart them: a reload would cut uploads'
        // bodies short); once it is answered, a pending one ends the loop.
        var finishSignals = sigset_t()
        sigemptyset(&finishSignals)
        sigaddset(&finishSignals, SIGTERM)
        sigaddset(&finishSignals, SIGUSR1)
        // A failed upload whose reservation this worker could not give back
        // (database locked or full) is retried before each request and
        // every second while the worker waits for one.
        connection.wakeWhileWaiting(every: 1) { service.retryDeferredWork() }
        while true {
            guard let request = connection.accept() else { break }
            sigprocmask(SIG_BLOCK, &finishSignals, nil)
            // nginx's access log is the one line per request (with the user
            // the response names); the journal keeps warnings and errors.
            connection.respond(service.handle(request))
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGUSR1) == 1 { break }
            sigprocmask(SIG_UNBLOCK, &finishSignals, nil)
        }
        service.retryDeferredWork(final: true)
        return 0
    }
}

enum Deliverer {
    static func run(config: DepotConfiguration) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let metadata: MetadataStore
        do {
            metadata = try config.openMetadata()
            try metadata.requireCurrentSchema()
        } catch {
            Log.error("event deliverer cannot start", [("error", String(describing: error))])
            sleep(1)
            return 1
        }
        Log.info("event deliverer starting", [("endpoints", config.events.endpoints.map(\.name).joined(separator: ",")), ("pid", String(getpid()))])
        // SIGTERM's default action ends it; nothing it holds needs cleaning up.
        EventDeliverer(events: config.events, metadata: metadata).run { false }
        return 0
    }
}
