import DepotService
import Foundation

/// The worker pools, each with its own socket and process count, the way
/// php-fpm runs pools: the API pool answers short requests, the upload pool
/// takes request bodies as they stream in (nginx picks the pool by location),
/// so a long upload never makes a short request wait.
enum Pool: String, CaseIterable {
    case api, upload

    func workerCount(_ config: DepotConfiguration) -> Int {
        switch self {
        case .api: return config.workers > 0 ? config.workers : ProcessInfo.processInfo.activeProcessorCount
        case .upload: return config.uploadWorkers
        }
    }

    func listen(_ config: DepotConfiguration) -> String {
        self == .api ? config.listen : config.uploadListen
    }
}
