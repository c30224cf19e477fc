/// Where an upload refused for its content is reported. The one call site
/// of the `file.rejected` event: `UploadScan.judge` calls `fileRejected`
/// for every infected upload, on every route. The events outbox is wired in
/// here; until then the rejection is logged only.
struct UploadRejectionReporter {
    let context: ServiceContext

    func fileRejected(_ upload: RejectedUpload, requestID: String) {
        // file.rejected: the event is written to the outbox here.
        Log.warning("upload rejected", [("request_id", requestID), ("reason", upload.reason), ("signature", upload.signature),
                                        ("organization_id", upload.organizationID), ("user_id", upload.userID),
                                        ("route", upload.route), ("size", String(upload.size))])
    }
}
