/// Where an upload refused for its content is reported: `UploadScan.judge`
/// calls `fileRejected` for every infected upload, on every route. The
/// refusal changed nothing in the database, so its `file.rejected` event is
/// recorded on its own; if that fails the refusal still stands and the log
/// keeps the facts.
struct UploadRejectionReporter {
    let context: ServiceContext

    func fileRejected(_ upload: RejectedUpload, requestID: String) {
        let facts = [("request_id", requestID), ("reason", upload.reason), ("signature", upload.signature),
                     ("organization_id", upload.organizationID), ("user_id", upload.userID),
                     ("route", upload.route), ("size", String(upload.size))]
        Log.warning("upload rejected", facts)
        do {
            try context.metadata.recordFileRejected(organizationID: upload.organizationID, userID: upload.userID,
                                                    originalFilename: upload.originalFilename, size: upload.size,
                                                    reason: upload.reason, signature: upload.signature, route: upload.route,
                                                    now: context.clock.seconds)
        } catch {
            Log.error("file.rejected event not recorded", facts + [("error", "\(error)")])
        }
    }
}
