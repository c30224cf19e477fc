import DepotDomain
import Testing

@Suite struct QuotaPolicyTests {
    /// 1000 bytes, 1000 per file, 3 files.
    let plan = Plan(name: "test", quotaBytes: 1000, maxFileSizeBytes: 1000, maxFiles: 3)

    func state(used: Int64 = 0, reserved: Int64 = 0, files: Int64 = 0, reservedFiles: Int64 = 0) -> QuotaState {
        QuotaState(usedBytes: used, reservedBytes: reserved, fileCount: files, reservedFiles: reservedFiles)
    }

    @Test func fileThatExactlyFillsTheQuotaFits() {
        // 300 used + 100 reserved + 600 new = 1000 of 1000: accepted.
        #expect(QuotaPolicy.check(size: 600, plan: plan, state: state(used: 300, reserved: 100)) == nil)
    }

    @Test func oneByteOverTheQuotaIsRefusedWithWhatIsLeft() {
        // 601 bytes where 600 are left: quota_exceeded, reporting 600 available.
        #expect(QuotaPolicy.check(size: 601, plan: plan, state: state(used: 300, reserved: 100)) == .quotaExceeded(available: 600))
    }

    @Test func reservedBytesCountAgainstTheQuota() {
        // Room held by uploads in flight is not free: everything reserved leaves nothing.
        #expect(QuotaPolicy.check(size: 1, plan: plan, state: state(reserved: 1000, reservedFiles: 1)) == .quotaExceeded(available: 0))
        #expect(QuotaPolicy.check(size: 500, plan: plan, state: state(reserved: 500, reservedFiles: 1)) == nil)
        #expect(QuotaPolicy.check(size: 501, plan: plan, state: state(reserved: 500, reservedFiles: 1)) == .quotaExceeded(available: 500))
    }

    @Test func overdrawnOrganizationReportsZeroAvailable() {
        // After a plan downgrade usage can exceed the quota; available is reported as 0, never negative.
        #expect(QuotaPolicy.check(size: 1, plan: plan, state: state(used: 1500, files: 1)) == .quotaExceeded(available: 0))
    }

    @Test func lastFileSlotCanBeTaken() {
        // 2 of 3 files stored: a third is accepted.
        #expect(QuotaPolicy.check(size: 1, plan: plan, state: state(files: 2)) == nil)
    }

    @Test func fileCountLimitIsRefused() {
        // 3 of 3 files stored: too_many_files with the plan's limit.
        #expect(QuotaPolicy.check(size: 1, plan: plan, state: state(files: 3)) == .tooManyFiles(limit: 3))
    }

    @Test func reservedFilesCountAgainstTheFileLimit() {
        // 2 stored + 1 upload in flight fill 3 slots: another upload is refused.
        #expect(QuotaPolicy.check(size: 1, plan: plan, state: state(files: 2, reservedFiles: 1)) == .tooManyFiles(limit: 3))
        #expect(QuotaPolicy.check(size: 1, plan: plan, state: state(files: 0, reservedFiles: 3)) == .tooManyFiles(limit: 3))
    }

    @Test func perFileLimitAtTheBoundary() {
        // A file of exactly the per-file limit is accepted, one byte more is file_too_large.
        let small = Plan(name: "small", quotaBytes: 10_000, maxFileSizeBytes: 100, maxFiles: 10)
        #expect(QuotaPolicy.check(size: 100, plan: small, state: state()) == nil)
        #expect(QuotaPolicy.check(size: 101, plan: small, state: state()) == .fileTooLarge(limit: 100))
    }

    @Test func perFileLimitTakesPrecedence() {
        // A file over the per-file limit is reported as file_too_large even when quota and file count are also exhausted.
        let small = Plan(name: "small", quotaBytes: 1000, maxFileSizeBytes: 100, maxFiles: 3)
        #expect(QuotaPolicy.check(size: 101, plan: small, state: state(used: 1000, reserved: 0, files: 3, reservedFiles: 0)) == .fileTooLarge(limit: 100))
    }

    @Test func builtInPlansHaveTheDocumentedLimits() {
        // Individual: 5 GiB, 100 MiB per file; Organization: 100 GiB, 5 GiB per file; both allow every category.
        #expect(Plan.individual.quotaBytes == 5 * 1024 * 1024 * 1024)
        #expect(Plan.individual.maxFileSizeBytes == 100 * 1024 * 1024)
        #expect(Plan.organization.quotaBytes == 100 * 1024 * 1024 * 1024)
        #expect(Plan.organization.maxFileSizeBytes == 5 * 1024 * 1024 * 1024)
        #expect(Set(Plan.individual.allowedCategories) == Set(FileCategory.allCases))
    }
}
