import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One reused libcurl easy handle (keep-alive across requests). Not thread-safe.
final class CurlConnection {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    let connectTimeout: Int
    let requestTimeout: Int
    let lowSpeedTime: Int
    let caFile: String?
    /// New connections the last successful request had to open (0 = kept-alive connection reused).
    private(set) var lastNewConnections = 0

    /// Chunk size curl asks the read callback for (pread size).
    static let uploadChunk = 512 * 1024

    init(connectTimeout: Int, requestTimeout: Int, lowSpeedTime: Int, caFile: String?) {
        guard let h = curl_easy_init() else { fatalError("curl_easy_init failed") }
        handle = h
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.lowSpeedTime = lowSpeedTime
        self.caFile = caFile
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Performs one request. `headers` are sent as given (they include Host).
    /// Throws `TransportFailure` when no complete answer arrived, or what a
    /// stream body's source threw.
    func perform(method: String, url: String, headers: [(String, String)],
                 body: CurlTransfer.Source, responseLimit: Int = 1 << 20) throws -> HTTPAnswer {
        curl_easy_reset(handle)  // options back to defaults; connections and caches stay
        errorBuffer[0] = 0
        let transfer = CurlTransfer(source: body, responseLimit: responseLimit)
        let context = Unmanaged.passUnretained(transfer).toOpaque()

        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for (name, value) in headers {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        list = curl_slist_append(list, "Expect:")  // no 100-continue round trip

        var failed = false
        func set(_ code: CURLcode) { if code != CURLE_OK { failed = true } }

        set(depot_curl_setopt_str(handle, CURLOPT_URL, url))
        set(depot_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(depot_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, connectTimeout))
        // A streamed body lasts as long as its client takes to send it (the
        // upload's own minimum rate bounds that); stalls still trip LOW_SPEED.
        if case .stream = body { set(depot_curl_setopt_long(handle, CURLOPT_TIMEOUT, 0)) } else {
            set(depot_curl_setopt_long(handle, CURLOPT_TIMEOUT, requestTimeout))
        }
        set(depot_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1))
        set(depot_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, lowSpeedTime))
        set(depot_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        set(depot_curl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))
        set(depot_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(depot_curl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS)))
        if let caFile { set(depot_curl_setopt_str(handle, CURLOPT_CAINFO, caFile)) }
        set(depot_curl_setopt_errorbuffer(handle, errorBuffer))
        set(depot_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))

        set(depot_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, context))
        set(depot_curl_setopt_write(handle) { data, size, count, user in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
            transfer.receive(data!, count: size * count)
            return size * count
        })
        set(depot_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, context))
        set(depot_curl_setopt_header(handle) { data, size, count, user in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
            transfer.header(data!, count: size * count)
            return size * count
        })

        switch method {
        case "GET":
            break
        case "HEAD":
            set(depot_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
        case "PUT", "POST":
            set(depot_curl_setopt_long(handle, CURLOPT_UPLOAD, 1))
            if method == "POST" { set(depot_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, "POST")) }
            set(depot_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(transfer.sourceLength)))
            set(depot_curl_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, Self.uploadChunk))
            set(depot_curl_setopt_ptr(handle, CURLOPT_READDATA, context))
            set(depot_curl_setopt_read(handle) { buffer, size, count, user in
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
                return transfer.fill(buffer!, capacity: size * count)
            })
            set(depot_curl_setopt_ptr(handle, CURLOPT_SEEKDATA, context))
            set(depot_curl_setopt_seek(handle) { user, offset, origin in
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
                return transfer.seek(to: Int64(offset), origin: origin)
            })
        default:
            set(depot_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method))
        }
        if failed { throw TransportFailure(message: "libcurl refused an option") }

        let code = withExtendedLifetime(transfer) { curl_easy_perform(handle) }
        if code != CURLE_OK {
            if let sourceError = transfer.sourceError { throw sourceError }
            if let readFailure = transfer.readFailure { throw TransportFailure(message: readFailure) }
            var message = String(cString: curl_easy_strerror(code))
            let detail = String(cString: errorBuffer)
            if !detail.isEmpty { message += " (\(detail))" }
            throw TransportFailure(message: message)
        }
        var status = 0
        _ = depot_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var connects = 0
        _ = depot_curl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        lastNewConnections = connects
        return HTTPAnswer(status: status, headers: transfer.headers, body: transfer.body)
    }
}
