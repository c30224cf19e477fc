import DepotAuth
import DepotDomain
import DepotHTTP
import Foundation

/// The contract's rules for the fields of an upload form: which category
/// the plan allows, what a profile image must be, the workflow fields, and
/// the key the file will have in the store. Applied to the whole form at its
/// end, and to the form as read so far when a large file must start on its
/// way to the store before the rest has arrived.
enum UploadForm {
    /// The file part as far as it was read.
    struct FilePart {
        var filename: String
        var contentType: String?
        /// The first up to 64 bytes, for magic-byte sniffing.
        var head: [UInt8]
        var length: Int64
    }

    static func missingFile() -> APIError {
        APIError.badRequest("The form has no `file` part with a file name.", code: "missing_file")
    }

    /// `headKnown: false` (a resumable upload's creation, before any byte):
    /// the profile-image sniff waits for completion.
    static func incomingFile(fields: [String: String], file part: FilePart, plan: Plan, identity: Identity,
                             now: Date, headKnown: Bool = true) throws -> IncomingFile {
        guard part.length > 0 else { throw APIError.badRequest("The file is empty.", code: "empty_file") }

        let categoryText = fields["category"].flatMap { $0.isEmpty ? nil : $0 } ?? FileCategory.general.rawValue
        guard let category = FileCategory(rawValue: categoryText) else {
            throw APIError.invalidField("category must be data_source, profile_image or general.", code: "invalid_category")
        }
        guard plan.allowedCategories.contains(category) else {
            throw APIError.invalidField("The \(plan.name) plan does not allow the \(category.rawValue) category.", code: "invalid_category")
        }
        let originalFilename = part.filename.isEmpty ? "upload" : part.filename
        var contentType = ContentTypes.normalize(declared: part.contentType, filename: originalFilename)
        if category == .profileImage {
            guard let sniffed = headKnown ? ImageSniffer.imageType(part.head) : contentType else {
                throw APIError(415, "unsupported_media_type", "A profile image must be a PNG, JPEG, GIF or WebP file.")
            }
            guard part.length <= FileCategory.profileImageMaxBytes else {
                throw APIError(413, "file_too_large", "A profile image may be at most 5 MiB.")
            }
            contentType = sniffed
        }
        let workflow = try workflowTarget(fields)
        let expiresIn = try self.expiresIn(fields)
        let made = workflow.map {
            ObjectKeys.workflowFileKey(organizationID: identity.organizationID, workflowID: $0.id, runID: $0.run,
                                       direction: $0.direction, originalFilename: originalFilename)
        } ?? ObjectKeys.userFileKey(organizationID: identity.organizationID, userID: identity.userID,
                                    originalFilename: originalFilename, at: now)
        return IncomingFile(key: made.key, objectName: made.name, originalFilename: originalFilename, size: part.length,
                            contentType: contentType, category: category, workflow: workflow, expiresIn: expiresIn)
    }

    /// The file's lifetime in seconds: at least a minute, at most a year.
    static let expiresInRange: ClosedRange<Int64> = 60...31_536_000

    /// `expires_in`: decimal digits within `expiresInRange`, or absent (empty counts as absent).
    static func expiresIn(_ fields: [String: String]) throws -> Int64? {
        guard let text = fields["expires_in"], !text.isEmpty else { return nil }
        guard text.utf8.count <= 12, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let seconds = Int64(text), expiresInRange.contains(seconds) else {
            throw APIError.invalidField("expires_in must be a whole number of seconds from \(expiresInRange.lowerBound) "
                                        + "to \(expiresInRange.upperBound).")
        }
        return seconds
    }

    /// All of `workflow_id`, `run_id`, `direction` or none; `workflow_name` only with them.
    static func workflowTarget(_ fields: [String: String]) throws -> WorkflowTarget? {
        let id = fields["workflow_id"].flatMap { $0.isEmpty ? nil : $0 }
        let run = fields["run_id"].flatMap { $0.isEmpty ? nil : $0 }
        let direction = fields["direction"].flatMap { $0.isEmpty ? nil : $0 }
        let name = fields["workflow_name"].flatMap { $0.isEmpty ? nil : $0 }
        if id == nil && run == nil && direction == nil {
            if name != nil { throw APIError.invalidField("workflow_name needs workflow_id, run_id and direction.") }
            return nil
        }
        guard let id, let run, let direction else {
            throw APIError.invalidField("workflow_id, run_id and direction must be given together.")
        }
        guard UUIDs.isValid(id), UUIDs.isValid(run) else { throw APIError.invalidField("workflow_id and run_id must be UUIDs.") }
        guard let d = ObjectKeys.Direction(rawValue: direction) else { throw APIError.invalidField("direction must be input or output.") }
        if let name, name.count > 200 || name.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw APIError.invalidField("workflow_name must be at most 200 printable characters.")
        }
        return WorkflowTarget(id: id.lowercased(), run: run.lowercased(), direction: d, name: name)
    }
}
