import DepotMetadata
import Foundation

/// Carries out the store deletes the metadata queued (deleted files, failed
/// uploads), now if the store answers, otherwise at the next clean-up pass.
///
/// Failed uploads whose reservation could not be given back when they failed
/// (database locked past the busy timeout, or full) stay with this worker:
/// while it lives the clean-up pass leaves them alone until their TTL (hours
/// of quota held), so the worker retries them itself, before each request and
/// while waiting for one.
final class StoreCleanup {
    private let context: ServiceContext
    private var deferred: [(reservationID: String, key: String)] = []
    private var lastAttempt: UInt64 = 0

    init(context: ServiceContext) { self.context = context }

    /// Deletes an object queued as a pending delete and forgets the entry;
    /// on failure the clean-up pass does it later.
    func deleteQueuedObject(_ key: String, requestID: String) {
        do {
            try Maintenance.carryOutQueuedDelete(key: key, uploadID: nil, store: context.store, metadata: context.metadata)
        } catch {
            Log.warning("store delete deferred to clean-up", [("request_id", requestID), ("error", String(describing: error))])
        }
    }

    /// Deletes several queued objects; after the first failure the rest is
    /// left to the clean-up pass (a store that is down fails every one).
    func deleteQueuedObjects(_ keys: [String], requestID: String) {
        for (index, key) in keys.enumerated() {
            do {
                try Maintenance.carryOutQueuedDelete(key: key, uploadID: nil, store: context.store, metadata: context.metadata)
            } catch {
                Log.warning("store deletes deferred to clean-up", [("request_id", requestID), ("remaining", String(keys.count - index)),
                                                                    ("error", String(describing: error))])
                return
            }
        }
    }

    /// Gives a failed upload's reservation back and removes whatever reached
    /// the store; what the database cannot take now is retried later.
    func abandon(reservationID: String, key: String, requestID: String) {
        do {
            try context.metadata.releaseReservation(id: reservationID, now: context.clock.seconds, reason: "upload failed")
        } catch {
            deferred.append((reservationID, key))
            Log.warning("upload clean-up deferred", [("request_id", requestID), ("error", String(describing: error))])
            return
        }
        deleteQueuedObject(key, requestID: requestID)
    }

    /// Retries the deferred releases. At most every 100 ms, and without
    /// waiting on a locked database (an attempt that fails costs
    /// microseconds): a request never pays a busy timeout for an earlier
    /// one's clean-up. `final`: once more with the normal busy timeout (the
    /// worker is exiting; after that the clean-up pass reclaims them, the
    /// owner being gone).
    func retryDeferredReleases(final: Bool = false) {
        guard !deferred.isEmpty else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        if !final && now &- lastAttempt < 100_000_000 { return }
        lastAttempt = now
        var remaining: [(reservationID: String, key: String)] = []
        for item in deferred {
            // One busy timeout at most on exit: the rest is the clean-up pass's.
            if final && !remaining.isEmpty {
                remaining.append(item)
                continue
            }
            do {
                try context.metadata.releaseReservation(id: item.reservationID, now: context.clock.seconds,
                                                        reason: "upload failed", waitForLock: final)
            } catch {
                remaining.append(item)
                continue
            }
            deleteQueuedObject(item.key, requestID: "-")
        }
        if remaining.count < deferred.count {
            Log.info("deferred upload clean-up done", [("released", String(deferred.count - remaining.count)),
                                                       ("remaining", String(remaining.count))])
        }
        deferred = remaining
    }
}
