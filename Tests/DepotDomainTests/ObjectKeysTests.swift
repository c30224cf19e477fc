import DepotDomain
import Foundation
import Testing

@Suite struct ObjectKeysTests {
    // MARK: userFileKey

    @Test func plainNameGetsStemTimestampRandomAndExtension() throws {
        // A plain upload name becomes {stem}_{YYYYMMDD_HHMMSS}_{uuid8}.{ext} in the user's folder.
        let made = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "report.pdf",
                                          at: Fixture.date, random: Fixture.random)
        #expect(made.name == "report_20261130_101500_a1b2c3d4.pdf")
        #expect(made.key == "organizations/\(Fixture.org)/files/\(Fixture.user)/report_20261130_101500_a1b2c3d4.pdf")
    }

    @Test func randomPartIsEightLowercaseHexFromFourBytes() throws {
        // The uuid8 part is the four random bytes as lowercase hex.
        let made = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "a.txt",
                                          at: Fixture.date, random: [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(made.name == "a_20261130_101500_deadbeef.txt")
    }

    @Test func defaultRandomPartIsFreshLowercaseHex() throws {
        // Without fixed bytes, each key gets 8 fresh lowercase hex characters.
        var seen = Set<String>()
        for _ in 0..<20 {
            let name = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "a.txt", at: Fixture.date).name
            #expect(name.hasPrefix("a_20261130_101500_") && name.hasSuffix(".txt"))
            let random = name.dropFirst("a_20261130_101500_".count).dropLast(4)
            #expect(random.count == 8)
            #expect(random.allSatisfy { "0123456789abcdef".contains($0) })
            seen.insert(String(random))
        }
        #expect(seen.count > 1)
    }

    @Test func timestampIsUTCWithZeroPadding() throws {
        // The time part is UTC, zero-padded, whatever the process time zone.
        let made = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "a.txt",
                                          at: Date(timeIntervalSince1970: 951_868_799), random: Fixture.random)
        #expect(made.name == "a_20000229_235959_a1b2c3d4.txt")
        let epoch = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "a.txt",
                                           at: Date(timeIntervalSince1970: 0.9), random: Fixture.random)
        #expect(epoch.name == "a_19700101_000000_a1b2c3d4.txt")
    }

    @Test func extensionIsLowercasedAndStemCaseKept() throws {
        // "Photo.JPG" keeps its stem's case and lowercases the extension.
        #expect(userFileName("Photo.JPG") == "Photo_20261130_101500_a1b2c3d4.jpg")
    }

    @Test func nameWithoutExtensionHasNoDot() throws {
        // A name with no extension gets none: the key ends with the random part.
        #expect(userFileName("README") == "README_20261130_101500_a1b2c3d4")
    }

    @Test func dotfileIsAStemNotAnExtension() throws {
        // ".bashrc" has no extension; its stem loses the leading dot.
        #expect(userFileName(".bashrc") == "bashrc_20261130_101500_a1b2c3d4")
        #expect(userFileName(".env.LOCAL") == "env_20261130_101500_a1b2c3d4.local")
    }

    @Test func onlyTheLastExtensionIsTheExtension() throws {
        // "archive.tar.gz": the extension is "gz", "archive.tar" stays the stem.
        #expect(userFileName("archive.tar.gz") == "archive.tar_20261130_101500_a1b2c3d4.gz")
    }

    @Test func unicodeQuotesAndSemicolonsBecomeSingleUnderscores() throws {
        // Each run of characters outside [A-Za-z0-9._-] becomes one underscore.
        let name = userFileName("\u{DC}n\u{EF}c\u{F8}d\u{E9} \"quoted\"; name.tar.gz")
        #expect(name == "_n_c_d_quoted_name.tar_20261130_101500_a1b2c3d4.gz")
    }

    @Test func decomposedAccentsAreReplacedToo() throws {
        // A combining accent (NFD "é") is a character outside the set as well.
        #expect(userFileName("cafe\u{301}.txt") == "cafe__20261130_101500_a1b2c3d4.txt")
    }

    @Test func whitespaceRunsCollapse() throws {
        // "a   b\t\tc" becomes "a_b_c".
        #expect(userFileName("a   b\t\tc.txt") == "a_b_c_20261130_101500_a1b2c3d4.txt")
    }

    @Test func traversalNameKeepsOnlyTheLastComponent() throws {
        // "../../etc/passwd" can never leave the user's folder: only "passwd" is kept.
        let made = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "../../etc/passwd",
                                          at: Fixture.date, random: Fixture.random)
        #expect(made.name == "passwd_20261130_101500_a1b2c3d4")
        #expect(made.key == Fixture.folder + made.name)
        #expect(throws: Never.self) { try ObjectKeys.validateKeySyntax(made.key) }
    }

    @Test func windowsPathKeepsOnlyTheFileName() throws {
        // "C:\path\x.PDF" becomes "x_…​.pdf".
        #expect(userFileName("C:\\path\\x.PDF") == "x_20261130_101500_a1b2c3d4.pdf")
    }

    @Test func longStemIsCutToOneHundredCharacters() throws {
        // A 300-character stem is cut to 100; the extension survives.
        let name = userFileName(String(repeating: "a", count: 300) + ".txt")
        #expect(name == String(repeating: "a", count: 100) + "_20261130_101500_a1b2c3d4.txt")
    }

    @Test func longMixedNameStaysWithinLimits() throws {
        // A 300-character name mixing unicode and ASCII still gives a stem of at most 100 safe characters.
        let original = String(repeating: "ab\u{E9}\u{4E2D} ", count: 60) + ".Csv"
        let parts = stemAndExtension(of: userFileName(original))
        #expect(parts?.ext == "csv")
        let stem = parts?.stem ?? ""
        #expect(!stem.isEmpty && stem.count <= 100)
        #expect(isKeyCharacterSet(stem))
        #expect(stem.hasPrefix("ab_ab_"))
    }

    @Test func onlyUnicodeNameGetsANonEmptyStem() throws {
        // Names made only of non-ASCII characters still get a non-empty, safe stem.
        for original in ["\u{65E5}\u{672C}\u{8A9E}", "\u{65E5}\u{672C}\u{8A9E}.pdf", "\u{1F600}", "\u{0627}\u{0644}\u{0645}"] {
            let name = userFileName(original)
            let parts = stemAndExtension(of: name)
            #expect(parts != nil, "\(name)")
            #expect(!(parts?.stem.isEmpty ?? true), "\(name)")
            #expect(isKeyCharacterSet(name), "\(name)")
        }
        #expect(userFileName("\u{65E5}\u{672C}\u{8A9E}.pdf") == "__20261130_101500_a1b2c3d4.pdf")
    }

    @Test func emptyAndDotOnlyNamesGetAFallbackStem() throws {
        // "", "..." and "dir/" never produce an empty stem or one starting with ".".
        #expect(userFileName("") == "file_20261130_101500_a1b2c3d4")
        #expect(userFileName("...") == "file_20261130_101500_a1b2c3d4")
        #expect(userFileName("docs/") == "docs_20261130_101500_a1b2c3d4")
    }

    @Test func extensionWithOddCharactersIsSanitized() throws {
        // An extension is reduced to safe characters, lowercased, and dropped when nothing is left.
        #expect(userFileName("notes.TXT ") == "notes_20261130_101500_a1b2c3d4.txt")
        let noExt = stemAndExtension(of: userFileName("x.\u{65E5}\u{672C}"))
        #expect(noExt?.ext == nil)
        #expect(noExt.map { isKeyCharacterSet($0.stem) && !$0.stem.hasPrefix(".") } == true)
    }

    @Test func everyMadeNameIsOneSafeSegmentTheCallerResolvesAsOwn() throws {
        // Whatever the upload name, the made name is safe and routes back to the caller's own file.
        let originals = ["report.pdf", ".bashrc", "archive.tar.gz", "\u{DC}n\u{EF}c\u{F8}d\u{E9} \"quoted\"; name.tar.gz",
                         "../../etc/passwd", "C:\\path\\x.PDF", String(repeating: "\u{1F600}x", count: 150), "\u{0}\u{1}\r\n.txt",
                         "...", "/", "..hidden", "a/b/", "%2e%2e%2f", "name.", "-rf", "\u{202E}fdp.exe"]
        for original in originals {
            let made = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: original,
                                              at: Fixture.date, random: Fixture.random)
            #expect(isKeyCharacterSet(made.name), "\(original)")
            #expect(!made.name.hasPrefix("."), "\(original)")
            #expect(made.key == Fixture.folder + made.name)
            let resolved = try? ObjectKeys.resolve(made.name, organizationID: Fixture.org, userID: Fixture.user)
            #expect(resolved == .own(key: made.key, name: made.name), "\(original)")
            let parts = stemAndExtension(of: made.name)
            #expect(parts != nil && !parts!.stem.isEmpty && parts!.stem.count <= 100, "\(original)")
        }
    }

    // MARK: workflowFileKey and isWorkflowKey

    @Test func workflowKeyHasTokenFolderAndSanitizedName() throws {
        // Workflow files live under runs/{run}/{direction}/{32-hex token}/{stem}.{ext}.
        let made = ObjectKeys.workflowFileKey(organizationID: Fixture.org, workflowID: Fixture.workflow, runID: Fixture.run,
                                              direction: .output, originalFilename: "Result Set.CSV", token: Fixture.token)
        #expect(made.name == "Result_Set.csv")
        #expect(made.key == "organizations/\(Fixture.org)/workflows/\(Fixture.workflow)/runs/\(Fixture.run)/output/000102030405060708090a0b0c0d0e0f/Result_Set.csv")
        #expect(ObjectKeys.isWorkflowKey(made.key))
    }

    @Test func workflowKeyForTraversalNameStaysInItsFolder() throws {
        // "../../x" as a workflow upload name keeps only "x" and stays a workflow key.
        let made = ObjectKeys.workflowFileKey(organizationID: Fixture.org, workflowID: Fixture.workflow, runID: Fixture.run,
                                              direction: .input, originalFilename: "../../.x", token: Fixture.token)
        #expect(made.name == "x")
        #expect(made.key.hasSuffix("/input/000102030405060708090a0b0c0d0e0f/x"))
        #expect(ObjectKeys.isWorkflowKey(made.key))
    }

    @Test func workflowKeyDefaultTokenIs128RandomBits() {
        // Without a fixed token, each workflow key gets a fresh 32-character lowercase hex token.
        let a = ObjectKeys.workflowFileKey(organizationID: Fixture.org, workflowID: Fixture.workflow, runID: Fixture.run,
                                           direction: .input, originalFilename: "a.txt")
        let b = ObjectKeys.workflowFileKey(organizationID: Fixture.org, workflowID: Fixture.workflow, runID: Fixture.run,
                                           direction: .input, originalFilename: "a.txt")
        #expect(a.key != b.key)
        #expect(ObjectKeys.isWorkflowKey(a.key) && ObjectKeys.isWorkflowKey(b.key))
        let token = a.key.split(separator: "/")[7]
        #expect(token.count == 32 && token.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test func isWorkflowKeyRefusesEveryNearMiss() throws {
        // Only the exact workflow form with a 32-lowercase-hex token is a capability.
        let base = "organizations/\(Fixture.org)/workflows/\(Fixture.workflow)/runs/\(Fixture.run)"
        let token = "000102030405060708090a0b0c0d0e0f"
        #expect(ObjectKeys.isWorkflowKey("\(base)/input/\(token)/data.csv"))
        let misses = [
            "\(base)/input/\(token.dropLast())/data.csv",                 // 31 hex
            "\(base)/input/\(token)0/data.csv",                           // 33 hex
            "\(base)/input/\(token.uppercased())/data.csv",               // uppercase token
            "\(base)/input/\(token.dropLast())g/data.csv",                // non-hex
            "\(base)/inputs/\(token)/data.csv",                           // unknown direction
            "\(base)/Input/\(token)/data.csv",
            "\(base)/input/\(token)/sub/data.csv",                        // extra segment
            "\(base)/input/\(token)/",                                    // no name
            "\(base)/input/\(token)",
            "\(base)/input/\(token)/.hidden",                             // name starting with a dot
            "\(base)/input/\(token)/..",
            "\(base)/input/\(token)/a b.csv",                             // unsafe name
            "/\(base)/input/\(token)/data.csv",                           // leading slash
            "organizations/\(Fixture.org)/workflow/\(Fixture.workflow)/runs/\(Fixture.run)/input/\(token)/data.csv",
            "organizations/\(Fixture.org)/workflows/\(Fixture.workflow)/run/\(Fixture.run)/input/\(token)/data.csv",
            "organizations/not-a-uuid/workflows/\(Fixture.workflow)/runs/\(Fixture.run)/input/\(token)/data.csv",
            "organizations/\(Fixture.org)/workflows/x/runs/\(Fixture.run)/input/\(token)/data.csv",
            "organizations/\(Fixture.org)/workflows/\(Fixture.workflow)/runs/x/input/\(token)/data.csv",
            "orgs/\(Fixture.org)/workflows/\(Fixture.workflow)/runs/\(Fixture.run)/input/\(token)/data.csv",
            Fixture.folder + "data_20261130_101500_a1b2c3d4.csv",         // a user file key
            "",
        ]
        for key in misses {
            #expect(!ObjectKeys.isWorkflowKey(key), "\(key)")
        }
    }

    // MARK: resolve

    @Test func bareNameResolvesInsideCallersFolder() throws {
        // "{object_name}" alone means the caller's own file of that name.
        let name = "report_20261130_101500_a1b2c3d4.pdf"
        #expect(try ObjectKeys.resolve(name, organizationID: Fixture.org, userID: Fixture.user)
            == .own(key: Fixture.folder + name, name: name))
    }

    @Test func fullOwnKeyResolvesToItsName() throws {
        // The caller's full key is accepted and yields its last segment.
        let name = "report_20261130_101500_a1b2c3d4.pdf"
        #expect(try ObjectKeys.resolve(Fixture.folder + name, organizationID: Fixture.org, userID: Fixture.user)
            == .own(key: Fixture.folder + name, name: name))
    }

    @Test func workflowKeyOfCallersOrganizationResolvesToWorkflow() throws {
        // A workflow file's full key in the caller's organization is for the route to judge (uploader or admin).
        let key = "organizations/\(Fixture.org)/workflows/\(Fixture.workflow)/runs/\(Fixture.run)/input/000102030405060708090a0b0c0d0e0f/x.csv"
        #expect(try ObjectKeys.resolve(key, organizationID: Fixture.org, userID: Fixture.user) == .workflow(key: key))
    }

    @Test func foreignKeysAreForeign() throws {
        // Keys of another user, another organization's workflow, or a malformed workflow key are 404, not 400.
        let name = "report_20261130_101500_a1b2c3d4.pdf"
        let foreign = [
            "organizations/\(Fixture.org)/files/\(Fixture.otherUser)/\(name)",
            "organizations/\(Fixture.otherOrg)/files/\(Fixture.user)/\(name)",
            "organizations/\(Fixture.otherOrg)/workflows/\(Fixture.workflow)/runs/\(Fixture.run)/input/000102030405060708090a0b0c0d0e0f/x.csv",
            "organizations/\(Fixture.org)/workflows/\(Fixture.workflow)/runs/\(Fixture.run)/input/0001020304/x.csv",
            "organizations/\(Fixture.org)/workflows/\(Fixture.workflow)/runs/\(Fixture.run)/sideways/000102030405060708090a0b0c0d0e0f/x.csv",
            "organizations/\(Fixture.org)/files/\(Fixture.user.uppercased())/\(name)",
            Fixture.folder + "sub/\(name)",                  // deeper than the folder
            Fixture.folder + ".hidden",                      // a name Depot never makes
            "organizations/\(Fixture.org)/files/\(Fixture.user)",  // the folder itself, no slash
            "etc/passwd",
        ]
        for key in foreign {
            #expect(try ObjectKeys.resolve(key, organizationID: Fixture.org, userID: Fixture.user) == .foreign, "\(key)")
        }
    }

    @Test func bareNamesDepotNeverMakesAreForeign() throws {
        // A single segment outside the key alphabet cannot be anyone's file: 404.
        for name in ["a b.txt", ".hidden", "caf\u{E9}.txt", "%2e%2e", "a;b", "\u{202E}txt.exe"] {
            #expect(try ObjectKeys.resolve(name, organizationID: Fixture.org, userID: Fixture.user) == .foreign, "\(name)")
        }
    }

    @Test func traversalAndMalformedNamesAreInvalid() throws {
        // "..", ".", backslashes, NUL, control characters and empty segments are 400.
        let invalid = [
            "", ".", "..", "../x", "x/..", "a/../b", Fixture.folder + "../\(Fixture.otherUser)/x.txt",
            Fixture.folder + "./x.txt", "..\\x", "a\\b.txt", Fixture.folder + "x.txt\\",
            "a\u{0}b", "x.txt\u{0}.pdf", "a\nb", "a\rb", "a\tb", "\u{1B}[31m", "a\u{7F}b",
            "a//b", "/" + Fixture.folder + "x.txt", Fixture.folder, Fixture.folder + "x.txt/", "/",
        ]
        for key in invalid {
            #expect(throws: ObjectNameError.self, "\(key.debugDescription)") {
                try ObjectKeys.resolve(key, organizationID: Fixture.org, userID: Fixture.user)
            }
        }
    }

    @Test func c1ControlCharactersAreInvalid() {
        // C1 control characters (U+0080–U+009F, e.g. NEL U+0085, CSI U+009B) are control characters too: 400.
        for key in ["a\u{85}b.txt", "\u{9B}31m", Fixture.folder + "x\u{80}.txt", "x\u{9F}"] {
            #expect(throws: ObjectNameError.self, "\(key.debugDescription)") {
                try ObjectKeys.resolve(key, organizationID: Fixture.org, userID: Fixture.user)
            }
        }
    }

    @Test func percentDecodedTraversalFormsNeverEscape() throws {
        // After the route's one decoding: "../" forms are 400, still-encoded forms are only ever foreign.
        // "%2e%2e%2f%2e%2e%2fetc%2fpasswd" decodes to this:
        #expect(throws: ObjectNameError.self) {
            try ObjectKeys.resolve("../../etc/passwd", organizationID: Fixture.org, userID: Fixture.user)
        }
        // "..%5c..%5cwindows" decodes to a backslash form:
        #expect(throws: ObjectNameError.self) {
            try ObjectKeys.resolve("..\\..\\windows", organizationID: Fixture.org, userID: Fixture.user)
        }
        // "x%00.txt" decodes to a NUL:
        #expect(throws: ObjectNameError.self) {
            try ObjectKeys.resolve("x\u{0}.txt", organizationID: Fixture.org, userID: Fixture.user)
        }
        // Double-encoded forms arrive still encoded and cannot name anything:
        for key in ["%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2E%2E", Fixture.folder + "%2e%2e", Fixture.folder + "..%2f" + Fixture.otherUser,
                    "%2e%2e/%2e%2e/etc/passwd"] {
            #expect(try ObjectKeys.resolve(key, organizationID: Fixture.org, userID: Fixture.user) == .foreign, "\(key)")
        }
    }

    // MARK: validateKeySyntax

    @Test func validateKeySyntaxAcceptsRealKeys() throws {
        // Keys Depot makes pass the shared syntax check.
        let user = ObjectKeys.userFileKey(organizationID: Fixture.org, userID: Fixture.user, originalFilename: "x.pdf",
                                          at: Fixture.date, random: Fixture.random).key
        let workflow = ObjectKeys.workflowFileKey(organizationID: Fixture.org, workflowID: Fixture.workflow, runID: Fixture.run,
                                                  direction: .input, originalFilename: "x.pdf", token: Fixture.token).key
        for key in [user, workflow, "x", "a/b", "..a/b..", ".../x"] {
            #expect(throws: Never.self) { try ObjectKeys.validateKeySyntax(key) }
        }
    }

    @Test func validateKeySyntaxExplainsEachRefusal() throws {
        // Each refusal says what is wrong, in a sentence fit for the client.
        func message(_ key: String) -> String? {
            do { try ObjectKeys.validateKeySyntax(key); return nil } catch ObjectNameError.invalid(let m) { return m } catch { return "?" }
        }
        #expect(message("") == "The object name is empty.")
        #expect(message(String(repeating: "a", count: 1025)) == "The object name is too long.")
        #expect(message(String(repeating: "a", count: 1024)) == nil)
        #expect(message("a\u{1}") == "The object name contains control characters.")
        #expect(message("a\\b") == "The object name contains a backslash.")
        #expect(message("a//b") == "The object name has an empty path segment.")
        #expect(message("a/../b") == "The object name has a relative path segment.")
        #expect(message("./b") == "The object name has a relative path segment.")
    }

    @Test func validateKeySyntaxCountsLengthInBytes() throws {
        // The 1024 limit is in UTF-8 bytes, like the store's.
        let twoByte = String(repeating: "\u{E9}", count: 513)   // 1026 bytes
        #expect(throws: ObjectNameError.invalid("The object name is too long.")) { try ObjectKeys.validateKeySyntax(twoByte) }
    }

    @Test func userFolderHasTheContractShape() throws {
        // The caller's folder is organizations/{org}/files/{user}/.
        #expect(ObjectKeys.userFolder(organizationID: "o", userID: "u") == "organizations/o/files/u/")
    }
}
