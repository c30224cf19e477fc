import DepotDomain
import Foundation

/// Fixed inputs shared by the domain tests.
enum Fixture {
    static let org = "0b5f7c1e-2d3a-4b6c-8d9e-0f1a2b3c4d5e"
    static let user = "7d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
    static let otherUser = "11111111-2222-4333-8444-555555555555"
    static let otherOrg = "99999999-8888-4777-8666-555555555555"
    static let workflow = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    static let run = "12345678-9abc-4def-8123-456789abcdef"
    /// 2026-11-30T10:15:00Z
    static let date = Date(timeIntervalSince1970: 1_796_033_700)
    static let random: [UInt8] = [0xa1, 0xb2, 0xc3, 0xd4]
    static let token: [UInt8] = Array(0..<16)
    static var folder: String { "organizations/\(org)/files/\(user)/" }
}

/// The unique name Depot makes for `original` at the fixture date and random bytes.
func userFileName(_ original: String) -> String {
    ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: original,
                           at: Fixture.date, random: Fixture.random).name
}

/// Splits a user file name back into stem and extension around the fixed
/// `_20261130_101500_a1b2c3d4` part.
func stemAndExtension(of name: String) -> (stem: String, ext: String?)? {
    let marker = "_20261130_101500_a1b2c3d4"
    guard let r = name.range(of: marker, options: .backwards) else { return nil }
    let stem = String(name[..<r.lowerBound])
    let rest = name[r.upperBound...]
    if rest.isEmpty { return (stem, nil) }
    guard rest.hasPrefix(".") else { return nil }
    return (stem, String(rest.dropFirst()))
}

func isKeyCharacterSet(_ s: String) -> Bool {
    s.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
}
