import Foundation

public enum QuotaPolicy {
    /// Whether one more file of `size` bytes fits; pure so it can be tested
    /// apart from the transaction that applies it.
    public static func check(size: Int64, plan: Plan, state: QuotaState) -> QuotaRefusal? {
        if size > plan.maxFileSizeBytes { return .fileTooLarge(limit: plan.maxFileSizeBytes) }
        if state.fileCount + state.reservedFiles + 1 > plan.maxFiles { return .tooManyFiles(limit: plan.maxFiles) }
        let available = plan.quotaBytes - state.usedBytes - state.reservedBytes
        if size > available { return .quotaExceeded(available: max(0, available)) }
        return nil
    }
}
