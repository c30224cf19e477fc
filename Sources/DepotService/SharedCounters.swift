import CProcess
import Foundation

/// Counters shared by the supervisor and all its workers (a shared memory
/// mapping made before fork), so whichever worker answers `/metrics` reports
/// the whole service, and worker restarts can be counted by the supervisor.
public final class SharedCounters {
    static let capacity = 4096
    let base: UnsafeMutablePointer<Int64>

    /// Call before forking the workers that should share the counters.
    public init() {
        if let shared = depot_shared_counters(SharedCounters.capacity) {
            base = shared
        } else {
            base = .allocate(capacity: SharedCounters.capacity)
            base.initialize(repeating: 0, count: SharedCounters.capacity)
        }
    }

    func add(_ index: Int, _ value: Int64 = 1) {
        guard index >= 0 && index < SharedCounters.capacity else { return }
        depot_counter_add(base, index, value)
    }

    func load(_ index: Int) -> Int64 { depot_counter_load(base, index) }

    /// The supervisor's own counter.
    public func noteWorkerRestart() { add(Metrics.Slot.workerRestarts.rawValue) }
}
