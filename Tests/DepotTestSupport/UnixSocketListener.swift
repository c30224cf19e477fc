import Foundation

/// A listening unix socket in the temp directory and clients connected to
/// it: the FastCGI unit tests and fuzz target play nginx's side with these.
public final class UnixSocketListener {
    public let descriptor: Int32
    public let path: String
    private var address = sockaddr_un()

    public init?(name: String) {
        path = NSTemporaryDirectory() + name + ".sock"
        unlink(path)
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // No close here: a failed init of a fully set class runs deinit,
        // which closes it; closing twice could close another thread's socket.
        guard bound == 0, listen(descriptor, 16) == 0 else { return nil }
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// A new client connected to the listener (its descriptor; the caller closes it), or -1.
    public func connectClient() -> Int32 {
        let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected != 0 {
            close(client)
            return -1
        }
        return client
    }
}
