import DepotEncoding

/// One event Depot tells configured endpoints about (CONTRACT.md, "Events
/// (webhooks)"). Its JSON body is made once, when the change it reports is
/// recorded, and sent unchanged on every attempt and replay.
public struct DepotEvent: Equatable {
    public enum Kind: String, CaseIterable, Sendable {
        case fileCreated = "file.created"
        case fileDeleted = "file.deleted"
        case fileExpired = "file.expired"
        case fileRejected = "file.rejected"
        case uploadExpired = "upload.expired"
        case quotaThreshold = "quota.threshold"
    }

    /// A value of the flat `data` object.
    public enum Value: Equatable {
        case text(String)
        case int(Int64)
        case null
    }

    public var id: String
    public var kind: Kind
    public var organizationID: String
    public var createdAt: Int64
    /// The `data` object's fields, in the order they are written.
    public var data: [(String, Value)]

    public init(id: String, kind: Kind, organizationID: String, createdAt: Int64, data: [(String, Value)]) {
        self.id = id
        self.kind = kind
        self.organizationID = organizationID
        self.createdAt = createdAt
        self.data = data
    }

    public static func == (a: DepotEvent, b: DepotEvent) -> Bool { a.json == b.json }

    /// `{"id","type","created_at","data":{…}}`, keys in that order.
    public var json: String {
        var out = "{\"id\":" + Self.quoted(id) + ",\"type\":" + Self.quoted(kind.rawValue)
        out += ",\"created_at\":" + Self.quoted(UTCTimestamp.format(createdAt, .rfc3339)) + ",\"data\":{"
        for (index, (key, value)) in data.enumerated() {
            if index > 0 { out += "," }
            out += Self.quoted(key) + ":"
            switch value {
            case .text(let s): out += Self.quoted(s)
            case .int(let n): out += String(n)
            case .null: out += "null"
            }
        }
        return out + "}}"
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// The fields every file event carries (no key material, no URL).
    public static func fileData(_ f: StoredFile) -> [(String, Value)] {
        var data: [(String, Value)] = [
            ("organization_id", .text(f.organizationID)), ("user_id", .text(f.userID)), ("file_id", .text(f.id)),
            ("object_key", .text(f.objectKey)), ("object_name", .text(f.objectName)), ("original_filename", .text(f.originalFilename)),
            ("size", .int(f.size)), ("content_type", .text(f.contentType)), ("category", .text(f.category.rawValue)),
            ("sha256", .text(f.sha256)), ("uploaded_at", .text(UTCTimestamp.format(f.uploadedAt, .rfc3339))),
        ]
        if let w = f.workflowID { data.append(("workflow_id", .text(w))) }
        if let r = f.runID { data.append(("run_id", .text(r))) }
        if let e = f.expiresAt { data.append(("expires_at", .text(UTCTimestamp.format(e, .rfc3339)))) }
        return data
    }
}
