import DepotAuth
import DepotCrypto
import DepotDomain
import DepotEncoding
import DepotHTTP
import DepotMetadata
import DepotStore
import Foundation

/// The end of a resumable upload: the bytes are all there, and the upload
/// becomes a file through the same rules and the same reservation commit
/// as `POST /upload`, or is removed when they break one.
struct ResumableCompletion {
    let context: ServiceContext
    let cleanup: StoreCleanup

    /// Turns the complete upload into a file: the multipart upload is
    /// completed at the store, the form's rules are applied to what arrived
    /// (a profile image is sniffed now), the stored object is virus-scanned
    /// (read back in ranges: the bytes came over many requests, and clamd
    /// takes one file on one connection, which no PATCH could keep open),
    /// and the reservation is committed. An infected file is removed with
    /// its upload; a scanner that is down leaves the upload complete but no
    /// file (503), so a later HEAD, GET or empty PATCH finishes it.
    func complete(_ upload: ResumableUpload, owner: String, sse: SSECustomerKey,
                          identity: Identity) throws -> StoredFile {
        // The hash state saved with the last offset covers the whole file.
        guard let sha256 = ResumableSHA256(state: upload.hashState).map({ Hex.encode($0.digest()) }) else { throw APIError.internalError }
        guard let account = try context.metadata.account(organizationID: upload.organizationID) else { throw APIError.notFound }
        var fields: [String: String] = ["category": upload.category.rawValue]
        if let w = upload.workflowID, let r = upload.runID, let d = upload.direction {
            fields["workflow_id"] = w
            fields["run_id"] = r
            fields["direction"] = d
            fields["workflow_name"] = upload.workflowName
        }
        let checked: IncomingFile
        do {
            checked = try UploadForm.incomingFile(fields: fields, file: .init(filename: upload.originalFilename, contentType: upload.contentType,
                                                                              head: upload.head, length: upload.length),
                                                  plan: account.plan, identity: identity, now: context.clock.now())
        } catch {
            // The bytes break a rule only they could show (a profile image
            // that is not one): the upload is dropped, nothing is kept.
            remove(upload, reason: "upload refused at completion")
            throw error
        }
        let parts = try context.metadata.resumableUploadParts(id: upload.id).map { (number: $0.number, etag: $0.etag) }
        let etag: String
        do {
            etag = try context.store.completeMultipartUpload(key: upload.objectKey, uploadID: upload.storeUploadID, parts: parts, sse: sse)
        } catch StoreError.notFound {
            // Completed at the store by a worker that died before recording
            // it: the object is there whole, or the upload is lost.
            guard let object = try context.store.headObject(key: upload.objectKey, sse: sse), object.size == upload.length else {
                throw APIError.unavailable("upload_storage_inconsistent", "The upload's stored bytes are gone; delete it and upload again.")
            }
            etag = object.etag
        }
        if let scan = UploadScan(context: context, requestID: "-") {
            do {
                try scan.feed(storedObject: upload.objectKey, length: upload.length, sse: sse)
                try scan.judge(RejectedUpload(organizationID: upload.organizationID, userID: upload.userID,
                                              originalFilename: upload.originalFilename, size: upload.length, route: "resumable",
                                              reason: "malware_detected", signature: ""))
            } catch let refusal as APIError where refusal.code == "malware_detected" || refusal.code == "file_too_large_to_scan" {
                remove(upload, reason: refusal.code)
                throw refusal
            }
        }
        // The file's lifetime runs from its completion, as a form upload's from its upload.
        let completedAt = context.clock.seconds
        let record = StoredFile(id: UUIDs.random(), organizationID: upload.organizationID, userID: upload.userID,
                                objectKey: upload.objectKey, objectName: upload.objectName, originalFilename: upload.originalFilename,
                                size: upload.length, contentType: checked.contentType, category: checked.category, sha256: sha256,
                                etag: FileIngest.bareETag(etag), keyID: upload.keyID, uploadedAt: completedAt,
                                bucket: context.store.bucket, workflowID: upload.workflowID, runID: upload.runID,
                                direction: upload.direction.flatMap(ObjectKeys.Direction.init(rawValue:)),
                                expiresAt: upload.fileExpiresIn.map { completedAt + $0 })
        guard try context.metadata.completeResumableUpload(id: upload.id, owner: owner, file: record) else {
            throw APIError.unavailable("upload_expired", "The upload expired or was deleted while it completed.")
        }
        if let staged = upload.stagedKey { cleanup.deleteQueuedObject(staged, requestID: "-") }
        context.metrics.add(.resumableUploadsCompleted)
        context.metrics.add(.uploadBytes, record.size)
        return record
    }

    /// Removes the upload (reservation, multipart upload, staging object);
    /// what fails now is left to the clean-up.
    func remove(_ upload: ResumableUpload, reason: String) {
        do {
            _ = try Maintenance.removeResumableUpload(id: upload.id, reason: reason, now: context.clock.seconds,
                                                      store: context.store, metadata: context.metadata)
        } catch {
            Log.warning("upload removal deferred to clean-up", [("upload_id", upload.id), ("error", String(describing: error))])
        }
    }
}
