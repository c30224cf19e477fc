import DepotDomain
@testable import DepotMetadata
import Foundation
import Testing

/// Workflow files, multi-file deletes and expiry, on every backend.
@Suite struct WorkflowFileStoreTests {
    func accountStore(_ temp: TempDatabase) throws -> SQLMetadataStore {
        let store = try temp.store()
        for user in [Fixture.user, Fixture.otherUser] {
            try store.ensureAccount(organizationID: Fixture.org, userID: user, accountType: nil,
                                    individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        }
        try store.ensureAccount(organizationID: Fixture.otherOrg, userID: Fixture.user, accountType: nil,
                                individualPlan: "individual", organizationPlan: "organization", now: Fixture.now)
        return store
    }

    func count(_ store: SQLMetadataStore, _ sql: String) throws -> Int64 { try store.db.first(sql) { $0.int(0) } ?? -1 }

    @Test(arguments: TestBackend.available) func aNameNeverMatchesAWorkflowFile(_ backend: TestBackend) throws {
        // A workflow file called report.csv is neither found nor deleted by the name report.csv.
        let temp = try TempDatabase(backend)
        let store = try accountStore(temp)
        let wf = try store.store(makeFile(name: "report.csv", size: 10, workflowID: "wf", runID: "r1", direction: .output))
        #expect(try store.file(organizationID: Fixture.org, userID: Fixture.user, objectName: "report.csv") == nil)
        #expect(try store.deleteFile(organizationID: Fixture.org, userID: Fixture.user, objectName: "report.csv", now: Fixture.now) == nil)
        #expect(try store.file(key: wf.objectKey) != nil)
        #expect(try store.quota()?.usedBytes == 10)
    }

    @Test(arguments: TestBackend.available) func deleteFilesRemovesRecordsCountersSharesAndLinksAtOnce(_ backend: TestBackend) throws {
        // Every named file goes with its quota, counters, shares and links; its object is queued; a key named twice counts once.
        let temp = try TempDatabase(backend)
        let store = try accountStore(temp)
        let a = try store.store(makeFile(name: "a", size: 100))
        let b = try store.store(makeFile(name: "b", size: 20, workflowID: "wf", runID: "r1", direction: .input))
        let kept = try store.store(makeFile(name: "kept", size: 3))
        for (i, f) in [a, b, kept].enumerated() {
            _ = try store.createShare(Share(id: "s\(i)", organizationID: Fixture.org, objectKey: f.objectKey, ownerID: Fixture.user,
                                            granteeUserID: Fixture.otherUser, createdBy: Fixture.user, createdAt: Fixture.now))
            try store.db.run("""
                INSERT INTO download_links (id, organization_id, user_id, object_key, type, signature_digest, created_at, expires_at)
                VALUES (?, ?, ?, ?, 'attachment', ?, ?, ?)
                """, [.text("l\(i)"), .text(Fixture.org), .text(Fixture.user), .text(f.objectKey), .text("d\(i)"), .int(Fixture.now), .int(Fixture.now + 60)])
        }
        let removed = try store.deleteFiles(organizationID: Fixture.org, [
            FileTarget(key: b.objectKey, ownerID: Fixture.user), FileTarget(key: a.objectKey, ownerID: Fixture.user),
            FileTarget(key: a.objectKey, ownerID: Fixture.user), FileTarget(key: "organizations/nowhere", ownerID: Fixture.user),
        ], now: Fixture.now)
        #expect(Set(removed.map(\.objectKey)) == [a.objectKey, b.objectKey])
        #expect(try store.quota() == QuotaState(usedBytes: 3, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
        #expect(try store.usage(organizationID: Fixture.org, userID: Fixture.user)?.userUsedBytes == 3)
        #expect(try store.storageUsage(organizationID: Fixture.org, createdBy: nil).inputBytes == 0)
        #expect(try count(store, "SELECT COUNT(*) FROM shares") == 1)
        #expect(try count(store, "SELECT COUNT(*) FROM download_links") == 1)
        #expect(Set(try store.pendingDeletes().map(\.objectKey)) == [a.objectKey, b.objectKey])
        try store.recalculate(organizationID: Fixture.org)
        #expect(try store.quota() == QuotaState(usedBytes: 3, reservedBytes: 0, fileCount: 1, reservedFiles: 0))
    }

    @Test(arguments: TestBackend.available) func deleteFilesKeepsOtherOwnersAndOrganizations(_ backend: TestBackend) throws {
        // A target bound to an owner never removes another member's file, nor anything of another organization.
        let temp = try TempDatabase(backend)
        let store = try accountStore(temp)
        let theirs = try store.store(makeFile(user: Fixture.otherUser, name: "t", size: 5, workflowID: "wf", runID: "r1", direction: .input))
        let foreign = try store.store(makeFile(org: Fixture.otherOrg, name: "f", size: 5))
        #expect(try store.deleteFiles(organizationID: Fixture.org, [FileTarget(key: theirs.objectKey, ownerID: Fixture.user),
                                                                     FileTarget(key: foreign.objectKey, ownerID: nil)], now: Fixture.now).isEmpty)
        #expect(try store.file(key: theirs.objectKey) != nil && store.file(key: foreign.objectKey) != nil)
        // Without an owner (an admin), the member's file goes.
        #expect(try store.deleteFiles(organizationID: Fixture.org, [FileTarget(key: theirs.objectKey, ownerID: nil)], now: Fixture.now).count == 1)
    }

    /// wf-1: run r1 has 7 files of the user (inputs at even seconds) and 2 of the other user; run r2 has 1.
    func workflowStore(_ temp: TempDatabase) throws -> SQLMetadataStore {
        let store = try accountStore(temp)
        for i in 0..<7 {
            try store.store(makeFile(name: "f\(i)", size: Int64(10 + i), uploadedAt: Fixture.now + Int64(i), workflowID: "wf-1", runID: "r1",
                                     direction: i % 2 == 0 ? .input : .output))
        }
        for i in 0..<2 {
            try store.store(makeFile(user: Fixture.otherUser, name: "o\(i)", size: 100, uploadedAt: Fixture.now + 10 + Int64(i),
                                     workflowID: "wf-1", runID: "r1", direction: .output))
        }
        try store.store(makeFile(name: "r2", size: 1000, uploadedAt: Fixture.now + 20, workflowID: "wf-1", runID: "r2", direction: .input))
        try store.store(makeFile(name: "other-workflow", size: 1, workflowID: "wf-2", runID: "r1", direction: .input))
        try store.store(makeFile(name: "plain", size: 1))
        return store
    }

    @Test(arguments: TestBackend.available) func workflowListingPagesFromBothEnds(_ backend: TestBackend) throws {
        // Every page of a run, newest first or oldest first, in order, with the total; the last page is read from the far end.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        for order in [ListOrder.desc, .asc] {
            var names: [String] = []
            for page in 1...4 {
                let result = try store.listWorkflowFiles(WorkflowFileQuery(organizationID: Fixture.org, workflowID: "wf-1", runID: "r1",
                                                                           uploaderID: Fixture.user, order: order, page: page, pageSize: 2))
                #expect(result.total == 7)
                names += result.files.map(\.objectName)
            }
            let expected = (0..<7).map { "f\($0)" }
            #expect(names == (order == .asc ? expected : expected.reversed()))
        }
        let beyond = try store.listWorkflowFiles(WorkflowFileQuery(organizationID: Fixture.org, workflowID: "wf-1", runID: "r1",
                                                                   uploaderID: Fixture.user, page: 5, pageSize: 2))
        #expect(beyond.files.isEmpty && beyond.total == 7)
    }

    @Test(arguments: TestBackend.available) func workflowListingFilters(_ backend: TestBackend) throws {
        // Run, direction and uploader narrow the listing; nil uploader (an admin) sees every member's; other organizations see nothing.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        func total(run: String? = nil, direction: ObjectKeys.Direction? = nil, uploader: String?, org: String = Fixture.org) throws -> Int64 {
            try store.listWorkflowFiles(WorkflowFileQuery(organizationID: org, workflowID: "wf-1", runID: run, direction: direction,
                                                          uploaderID: uploader, pageSize: 100)).total
        }
        #expect(try total(uploader: Fixture.user) == 8)
        #expect(try total(uploader: nil) == 10)
        #expect(try total(run: "r1", uploader: nil) == 9)
        #expect(try total(run: "r1", direction: .input, uploader: Fixture.user) == 4)
        #expect(try total(run: "r1", direction: .output, uploader: nil) == 5)
        #expect(try total(uploader: Fixture.otherUser) == 2)
        #expect(try total(uploader: nil, org: Fixture.otherOrg) == 0)
        let all = try store.listWorkflowFiles(WorkflowFileQuery(organizationID: Fixture.org, workflowID: "wf-1", uploaderID: nil, pageSize: 3))
        #expect(all.files.map(\.objectName) == ["r2", "o1", "o0"])
    }

    @Test(arguments: TestBackend.available) func deletingARunTakesTheCallersOrEveryMembersFiles(_ backend: TestBackend) throws {
        // A member's run delete removes their files of that run only; an admin's (no uploader) removes the rest.
        let temp = try TempDatabase(backend)
        let store = try workflowStore(temp)
        let before = try store.quota()!
        let mine = try store.deleteWorkflowRun(organizationID: Fixture.org, workflowID: "wf-1", runID: "r1", uploaderID: Fixture.user, now: Fixture.now)
        #expect(mine.count == 7 && mine.allSatisfy { $0.userID == Fixture.user && $0.runID == "r1" })
        #expect(try store.quota()!.usedBytes == before.usedBytes - (10...16).reduce(0, +))
        let rest = try store.deleteWorkflowRun(organizationID: Fixture.org, workflowID: "wf-1", runID: "r1", uploaderID: nil, now: Fixture.now)
        #expect(rest.count == 2)
        #expect(try store.deleteWorkflowRun(organizationID: Fixture.org, workflowID: "wf-1", runID: "r1", uploaderID: nil, now: Fixture.now).isEmpty)
        #expect(try store.quota() == QuotaState(usedBytes: 1002, reservedBytes: 0, fileCount: 3, reservedFiles: 0))
        #expect(try store.pendingDeletes().count == 9)
    }

    @Test(arguments: TestBackend.available) func expiredFilesGoInBatchesWithTheirQuota(_ backend: TestBackend) throws {
        // Files past expires_at are found soonest first and removed batch by batch; unexpired and undated files stay.
        let temp = try TempDatabase(backend)
        let store = try accountStore(temp)
        for i in 0..<5 {
            var f = makeFile(name: "e\(i)", size: 10)
            f.expiresAt = Fixture.now + Int64(i)
            try store.store(f)
        }
        var later = makeFile(name: "later", size: 7)
        later.expiresAt = Fixture.now + 3600
        try store.store(later)
        try store.store(makeFile(name: "forever", size: 1))
        let now = Fixture.now + 3
        #expect(try store.expiredFiles(now: now, limit: 10).map(\.objectName) == ["e0", "e1", "e2", "e3"])
        #expect(try store.file(key: "organizations/\(Fixture.org)/files/\(Fixture.user)/later")?.expiresAt == Fixture.now + 3600)
        #expect(try store.deleteExpiredFiles(now: now, limit: 3).map(\.objectName) == ["e0", "e1", "e2"])
        #expect(try store.deleteExpiredFiles(now: now, limit: 3).map(\.objectName) == ["e3"])
        #expect(try store.deleteExpiredFiles(now: now, limit: 3).isEmpty)
        #expect(try store.quota() == QuotaState(usedBytes: 18, reservedBytes: 0, fileCount: 3, reservedFiles: 0))
        #expect(try store.pendingDeletes().map(\.reason) == Array(repeating: "file expired", count: 4))
    }

    @Test(arguments: TestBackend.available) func breakdownIsCappedAtOneHundredLargestWorkflows(_ backend: TestBackend) throws {
        // 101 workflows: the breakdown lists the 100 largest, largest first, and says it was cut; totals still count all.
        let temp = try TempDatabase(backend)
        let store = try accountStore(temp)
        for i in 0..<101 {
            try store.store(makeFile(name: "w\(i)", size: Int64(1 + i), workflowID: String(format: "wf-%03d", i), runID: "r", direction: .input))
        }
        let report = try store.storageUsage(organizationID: Fixture.org, createdBy: nil)
        #expect(report.breakdown.count == 100 && report.breakdownTruncated)
        #expect(report.breakdown.first?.workflowID == "wf-100" && report.breakdown.last?.workflowID == "wf-001")
        #expect(report.fileCount == 101)
        let mine = try store.storageUsage(organizationID: Fixture.org, createdBy: Fixture.otherUser)
        #expect(mine.breakdown.isEmpty && !mine.breakdownTruncated)
        _ = try store.deleteWorkflowRun(organizationID: Fixture.org, workflowID: "wf-000", runID: "r", uploaderID: nil, now: Fixture.now)
        let exact = try store.storageUsage(organizationID: Fixture.org, createdBy: nil)
        #expect(exact.breakdown.count == 100 && !exact.breakdownTruncated)
    }
}
