import Foundation

/// How a backup reaches its destination, for every backend: written under a
/// hidden temporary name beside it (0600: it holds every account's
/// metadata), renamed into place only when complete and checked, with the
/// directory synced, so a listed backup is always a whole one.
enum BackupFile {
    /// `.NAME.KIND-PID` in the destination's directory.
    static func temporary(beside destination: String, kind: String) -> String {
        let directory = (destination as NSString).deletingLastPathComponent
        return (directory as NSString).appendingPathComponent(".\((destination as NSString).lastPathComponent).\(kind)-\(getpid())")
    }

    /// Creates `path` empty with mode 0600; fails when it exists.
    static func createPrivate(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DatabaseError.unavailable("cannot create \(path): \(String(cString: strerror(errno)))") }
        close(fd)
    }

    /// Renames the finished copy to `destination`, syncs the directory, and returns the copy's size.
    static func publish(_ temp: String, as destination: String) throws -> Int64 {
        guard rename(temp, destination) == 0 else {
            throw DatabaseError.unavailable("cannot rename the copy to \(destination): \(String(cString: strerror(errno)))")
        }
        let dfd = open((destination as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
        return (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? NSNumber)?.int64Value ?? 0
    }
}
