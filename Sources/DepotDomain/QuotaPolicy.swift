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

    /// Whether a request body of `length` bytes can hold a file that fits,
    /// judged from its headers alone before any of it is read: the body may
    /// exceed the file by at most `allowance` (the form around it), so a body
    /// longer than the plan's limit or the free quota plus that cannot.
    public static func admit(bodyLength length: Int64, allowance: Int64, plan: Plan, state: QuotaState) -> QuotaRefusal? {
        if length > plan.maxFileSizeBytes + allowance { return .fileTooLarge(limit: plan.maxFileSizeBytes) }
        if state.fileCount + state.reservedFiles + 1 > plan.maxFiles { return .tooManyFiles(limit: plan.maxFiles) }
        let available = plan.quotaBytes - state.usedBytes - state.reservedBytes
        if length > available + allowance { return .quotaExceeded(available: max(0, available)) }
        return nil
    }
}
