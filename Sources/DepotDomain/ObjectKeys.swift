import DepotCrypto
import DepotEncoding
import Foundation

/// The object key rules of the contract, in one place: how keys are made
/// from upload names and how names arriving in routes are judged.
public enum ObjectKeys {
    public enum Direction: String, CaseIterable { case input, output }

    /// The folder a user's files live under.
    public static func userFolder(organizationID: String, userID: String) -> String {
        "organizations/\(organizationID)/files/\(userID)/"
    }

    /// `organizations/{org}/files/{user}/{stem}_{YYYYMMDD_HHMMSS}_{uuid8}.{ext}`
    public static func userFileKey(organizationID: String, userID: String, originalFilename: String,
                                   at date: Date, random: [UInt8] = SecureRandom.bytes(4)) -> (key: String, name: String) {
        let (stem, ext) = splitName(originalFilename)
        let name = "\(stem)_\(timestamp(date))_\(Hex.encode(random.prefix(4)))\(ext.map { "." + $0 } ?? "")"
        return (userFolder(organizationID: organizationID, userID: userID) + name, name)
    }

    /// Where a resumable upload keeps its bytes past its last full part:
    /// `organizations/{org}/uploads/{upload}/{offset}`, one object per offset
    /// (a new one never overwrites the one the database still names).
    public static func resumableStagingKey(organizationID: String, uploadID: String, offset: Int64) -> String {
        "organizations/\(organizationID)/uploads/\(uploadID)/\(offset)"
    }

    /// `organizations/{org}/workflows/{wf}/runs/{run}/{input|output}/{token}/{stem}.{ext}`
    public static func workflowFileKey(organizationID: String, workflowID: String, runID: String, direction: Direction,
                                       originalFilename: String, token: [UInt8] = SecureRandom.bytes(16)) -> (key: String, name: String) {
        let (stem, ext) = splitName(originalFilename)
        let name = stem + (ext.map { "." + $0 } ?? "")
        return ("organizations/\(organizationID)/workflows/\(workflowID)/runs/\(runID)/\(direction.rawValue)/\(Hex.encode(token.prefix(16)))/\(name)", name)
    }

    /// True when `key` has the workflow form with a 128-bit token; such keys
    /// are capabilities on their own.
    public static func isWorkflowKey(_ key: String) -> Bool {
        let p = key.split(separator: "/", omittingEmptySubsequences: false)
        return p.count == 9 && p[0] == "organizations" && UUIDs.isValid(p[1]) && p[2] == "workflows"
            && UUIDs.isValid(p[3]) && p[4] == "runs" && UUIDs.isValid(p[5]) && Direction(rawValue: String(p[6])) != nil
            && p[7].utf8.count == 32 && Hex.isLowercase(p[7]) && isSafeName(p[8])
    }

    /// Splits an original file name into a sanitized stem and lowercased extension.
    static func splitName(_ original: String) -> (stem: String, ext: String?) {
        let base = original.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? original
        var stemPart = base
        var ext: String? = nil
        if let dot = base.lastIndex(of: "."), dot != base.startIndex {
            let candidate = sanitize(String(base[base.index(after: dot)...])).lowercased()
            let trimmed = candidate.trimmingCharacters(in: CharacterSet(charactersIn: "._-"))
            if !trimmed.isEmpty && trimmed.count <= 16 {
                ext = trimmed
                stemPart = String(base[..<dot])
            }
        }
        var stem = sanitize(stemPart)
        while stem.hasPrefix(".") { stem.removeFirst() }
        if stem.count > 100 { stem = String(stem.prefix(100)) }
        if stem.isEmpty { stem = "file" }
        return (stem, ext)
    }

    /// Reduces to `[A-Za-z0-9._-]`, other characters become `_`, runs collapsed.
    static func sanitize(_ s: String) -> String {
        var out = ""
        var lastWasReplacement = false
        for scalar in s.unicodeScalars {
            if scalar.isASCII, isSafeByte(UInt8(scalar.value)) {
                out.unicodeScalars.append(scalar)
                lastWasReplacement = false
            } else if !lastWasReplacement {
                out.append("_")
                lastWasReplacement = true
            }
        }
        return out
    }

    /// `YYYYMMDD_HHMMSS` in UTC.
    static func timestamp(_ date: Date) -> String {
        UTCTimestamp.format(Int64(date.timeIntervalSince1970), keyTimestamp)
    }

    private static let keyTimestamp = UTCTimestamp.Style(dateSeparator: "", dateTimeSeparator: "_", timeSeparator: "", suffix: "")

    private static func isSafeByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    static func isSafeName<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && !s.hasPrefix(".") && s.utf8.allSatisfy(isSafeByte)
    }
}

extension ObjectKeys {
    /// Judges a decoded route parameter per the contract: `..` segments,
    /// backslashes, NUL/control characters and empty segments are invalid
    /// (400); a workflow key of the caller's organization is `.workflow`;
    /// anything else outside the caller's folder is foreign (404). A bare
    /// name only ever names a file in the caller's folder.
    public static func resolve(_ decoded: String, organizationID: String, userID: String) throws -> ObjectReference {
        try validateKeySyntax(decoded)
        let folder = userFolder(organizationID: organizationID, userID: userID)
        if !decoded.contains("/") {
            return isSafeName(decoded) ? .own(key: folder + decoded, name: decoded) : .foreign
        }
        if decoded.hasPrefix("organizations/\(organizationID)/workflows/") {
            return isWorkflowKey(decoded) ? .workflow(key: decoded) : .foreign
        }
        guard decoded.hasPrefix(folder) else { return .foreign }
        let name = String(decoded.dropFirst(folder.count))
        guard isSafeName(name), !name.contains("/") else { return .foreign }
        return .own(key: decoded, name: name)
    }

    /// Rejects keys no legitimate client can hold. Shared by every route.
    public static func validateKeySyntax(_ key: String) throws {
        guard !key.isEmpty else { throw ObjectNameError.invalid("The object name is empty.") }
        guard key.utf8.count <= 1024 else { throw ObjectNameError.invalid("The object name is too long.") }
        for scalar in key.unicodeScalars {
            // C0, DEL and C1 (U+0080–U+009F): every Unicode control character.
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                throw ObjectNameError.invalid("The object name contains control characters.")
            }
            if scalar == "\\" { throw ObjectNameError.invalid("The object name contains a backslash.") }
        }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { throw ObjectNameError.invalid("The object name has an empty path segment.") }
            if segment == ".." || segment == "." { throw ObjectNameError.invalid("The object name has a relative path segment.") }
        }
    }
}
