import DepotAntivirus
import DepotHTTP
import DepotStore

/// One upload's virus scan, fed the file's bytes as they pass and judged
/// before the file is committed. Turns the scanner's answers into the
/// contract's: infected `422 malware_detected`, scanner down `503
/// scanner_unavailable` (or, with `fail_open`, the file goes through
/// unscanned), a file above clamd's StreamMaxLength `413
/// file_too_large_to_scan`. Counts each outcome in `/metrics`.
final class UploadScan {
    private let context: ServiceContext
    private let scanner: MalwareScanner
    private let settings: AntivirusConfiguration
    private let requestID: String
    private var scan: MalwareScan?
    /// Set (with `fail_open`) once the scanner failed: the rest of the file
    /// is not sent and the file goes through unscanned.
    private var lettingThrough = false
    private var fed: Int64 = 0

    /// Bytes read back from the store per request when scanning a stored
    /// object (a completed resumable upload).
    static let readBackSize: Int64 = 4 << 20

    /// nil when no scanner is configured.
    init?(context: ServiceContext, requestID: String) {
        guard let scanner = context.scanner, let settings = context.config.antivirus else { return nil }
        self.context = context
        self.scanner = scanner
        self.settings = settings
        self.requestID = requestID
    }

    /// A file of `size` bytes is refused before any of it is read when it
    /// cannot be scanned.
    static func admit(size: Int64, allowance: Int64 = 0, _ settings: AntivirusConfiguration?) throws {
        guard let settings, size > settings.streamMaxLength + allowance else { return }
        throw tooLarge(settings)
    }

    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard !lettingThrough, bytes.count > 0 else { return }
        // Refused here whatever the scanner would say: it cannot take more.
        guard fed + Int64(bytes.count) <= settings.streamMaxLength else {
            scan = nil
            throw Self.tooLarge(settings)
        }
        do {
            if scan == nil { scan = try scanner.openScan() }
            try scan!.feed(bytes)
            fed += Int64(bytes.count)
        } catch let failure as ScanFailure {
            try failed(failure)
        }
    }

    /// Feeds a stored object, read back from the store in ranges (never
    /// whole in memory).
    func feed(storedObject key: String, length: Int64, sse: SSECustomerKey) throws {
        var offset: Int64 = 0
        while offset < length, !lettingThrough {
            let count = min(Self.readBackSize, length - offset)
            let bytes = try context.store.getObjectRange(key: key, sse: sse, offset: offset, length: count)
            guard Int64(bytes.count) == count else {
                throw APIError.unavailable("upload_storage_inconsistent", "The upload's stored bytes could not be read back; retry shortly.")
            }
            try bytes.withUnsafeBytes { try feed($0) }
            offset += count
        }
    }

    /// The verdict on everything fed: returns for a clean (or, failing
    /// open, an unscanned) file, throws the refusal otherwise.
    func judge(_ upload: @autoclosure () -> RejectedUpload) throws {
        guard !lettingThrough else {
            context.metrics.add(.antivirusLetThrough)
            return
        }
        let verdict: ScanVerdict
        do {
            if scan == nil { scan = try scanner.openScan() }
            verdict = try scan!.verdict()
        } catch let failure as ScanFailure {
            try failed(failure)
            context.metrics.add(.antivirusLetThrough)
            return
        }
        scan = nil
        context.metrics.add(.antivirusFilesScanned)
        guard case .infected(let signature) = verdict else { return }
        context.metrics.add(.antivirusInfected)
        var rejected = upload()
        rejected.signature = signature
        UploadRejectionReporter(context: context).fileRejected(rejected, requestID: requestID)
        throw APIError(422, "malware_detected", "The file was refused: the virus scanner found \(signature) in it. Nothing was stored.")
    }

    /// Ends the scan early (the upload failed for another reason).
    func cancel() { scan = nil }

    /// A scanner failure: the file is refused, or with `fail_open` (for an
    /// unreachable scanner only) let through. Returns when letting through.
    private func failed(_ failure: ScanFailure) throws {
        scan = nil
        switch failure {
        case .tooLarge:
            throw Self.tooLarge(settings)
        case .unavailable(let reason):
            context.metrics.add(.antivirusErrors)
            Log.warning("virus scanner failed", [("request_id", requestID), ("error", reason),
                                                 ("fail_open", settings.failOpen ? "true" : "false")])
            guard settings.failOpen else {
                throw APIError.unavailable("scanner_unavailable", "The virus scanner is unavailable; nothing was stored. Retry shortly.", retryAfter: 30)
            }
            lettingThrough = true
        }
    }

    private static func tooLarge(_ settings: AntivirusConfiguration) -> APIError {
        APIError(413, "file_too_large_to_scan",
                 "The file is larger than the \(settings.streamMaxLength) bytes the virus scanner accepts; nothing was stored.")
    }
}
