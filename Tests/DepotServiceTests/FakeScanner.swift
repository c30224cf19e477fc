import DepotAntivirus
import Foundation

/// A virus scanner in memory: a file holding `marker` is infected; while
/// `isDown` every scan fails as an unreachable clamd would. Records what
/// each finished scan was fed.
final class FakeScanner: MalwareScanner {
    static let marker = Array("EICAR-STANDARD-ANTIVIRUS-TEST-FILE".utf8)
    var isDown = false
    private(set) var scanned: [[UInt8]] = []

    func ping() -> Bool { !isDown }

    func openScan() throws -> MalwareScan {
        guard !isDown else { throw ScanFailure.unavailable("cannot connect to clamd: No such file or directory") }
        return Scan(scanner: self)
    }

    final class Scan: MalwareScan {
        let scanner: FakeScanner
        var bytes: [UInt8] = []
        init(scanner: FakeScanner) { self.scanner = scanner }

        func feed(_ bytes: UnsafeRawBufferPointer) throws {
            guard !scanner.isDown else { throw ScanFailure.unavailable("writing to clamd: Broken pipe") }
            self.bytes += bytes
        }

        func verdict() throws -> ScanVerdict {
            guard !scanner.isDown else { throw ScanFailure.unavailable("clamd closed the connection without an answer") }
            scanner.scanned.append(bytes)
            let found = Data(bytes).range(of: Data(FakeScanner.marker)) != nil
            return found ? .infected(signature: "Eicar-Test-Signature") : .clean
        }
    }
}
