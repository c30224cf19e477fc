/// An upload refused after its bytes arrived (the virus scanner found
/// something): what a `file.rejected` event reports. No record exists.
struct RejectedUpload {
    var organizationID: String
    var userID: String
    var originalFilename: String
    var size: Int64
    /// The route it came by: `upload`, `upload_link` or `resumable`.
    var route: String
    /// Why, as the error's code: `malware_detected`.
    var reason: String
    /// The scanner's name for what it found.
    var signature: String
}
