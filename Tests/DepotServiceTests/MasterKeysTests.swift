import DepotService
import Foundation
import Testing

@Suite struct MasterKeysTests {
    static let hex1 = String(repeating: "ab", count: 32)
    static let hex2 = String(repeating: "cd", count: 32)
    static let base64Key = Data(repeating: 7, count: 32).base64EncodedString()

    @Test func hexAndBase64KeysAreRead() throws {
        // Each line is "id key", the key as 64 hex characters or base64 of 32 bytes; comments and blank lines are skipped.
        let keys = try MasterKeys(text: "# keys\n\nk1 \(Self.hex1)\n  k2   \(Self.base64Key)  \n")
        #expect(keys.keys.map(\.id) == ["k1", "k2"])
        #expect(keys.key(id: "k1") == [UInt8](repeating: 0xab, count: 32))
        #expect(keys.key(id: "k2") == [UInt8](repeating: 7, count: 32))
        #expect(keys.key(id: "k3") == nil)
    }

    @Test func lastKeyIsCurrent() throws {
        // New uploads use the newest (last) key.
        let keys = try MasterKeys(text: "old \(Self.hex1)\nnew \(Self.hex2)\n")
        #expect(keys.current.id == "new")
        #expect(keys.current.key == [UInt8](repeating: 0xcd, count: 32))
    }

    @Test func emptyFileIsRefused() {
        // A file without any key line is an error.
        let error = #expect(throws: ConfigurationError.self) { try MasterKeys(text: "# nothing here\n\n") }
        #expect(error?.message == "master key file holds no key")
    }

    @Test func duplicateIdsAreRefused() {
        // Two keys with one id would make old files ambiguous.
        let error = #expect(throws: ConfigurationError.self) { try MasterKeys(text: "k \(Self.hex1)\nk \(Self.hex2)\n") }
        #expect(error?.message == "master key ids must be unique")
    }

    @Test func wrongLengthOrEncodingIsRefusedWithoutEchoingTheKey() {
        // A short, long or unreadable key is refused, and the message never repeats key material.
        for material in [String(repeating: "ab", count: 31), String(repeating: "ab", count: 33), "not-a-key!!",
                         Data(repeating: 1, count: 16).base64EncodedString()] {
            let error = #expect(throws: ConfigurationError.self) { try MasterKeys(text: "k1 \(material)\n") }
            #expect(error?.message == "master key 'k1' must be 32 bytes (hex or base64)")
            #expect(!(error?.message.contains(material) ?? true))
        }
    }

    @Test func malformedLineIsRefused() {
        // A line must be exactly "id key".
        for line in ["\(Self.hex1)", "k1 \(Self.hex1) extra"] {
            let error = #expect(throws: ConfigurationError.self) { try MasterKeys(text: line + "\n") }
            #expect(error?.message == "master key file: each line is 'id key'")
        }
    }

    @Test func windowsLineEndingsAreAccepted() throws {
        // A key file saved with CRLF line endings reads the same keys.
        let keys = try MasterKeys(text: "# keys\r\nk1 \(Self.hex1)\r\nk2 \(Self.hex2)\r\n")
        #expect(keys.keys.map(\.id) == ["k1", "k2"])
        #expect(keys.current.key == [UInt8](repeating: 0xcd, count: 32))
    }

    @Test func objectKeysDifferPerObjectAndPerMasterKey() throws {
        // Each object gets its own SSE-C key, stable for its key id, unknown ids give none.
        let keys = try MasterKeys(text: "k1 \(Self.hex1)\nk2 \(Self.hex2)\n")
        let a = try #require(keys.objectKey(keyID: "k1", objectKey: "organizations/o/files/u/a"))
        let again = try #require(keys.objectKey(keyID: "k1", objectKey: "organizations/o/files/u/a"))
        let b = try #require(keys.objectKey(keyID: "k1", objectKey: "organizations/o/files/u/b"))
        let other = try #require(keys.objectKey(keyID: "k2", objectKey: "organizations/o/files/u/a"))
        #expect(a.key.count == 32)
        #expect(a.key == again.key)
        #expect(a.key != b.key && a.key != other.key)
        #expect(a.key != [UInt8](repeating: 0xab, count: 32))
        #expect(keys.objectKey(keyID: "k9", objectKey: "organizations/o/files/u/a") == nil)
    }

    @Test func rotationKeepsObjectKeysAndLinkSecret() throws {
        // Appending a new key changes neither existing files' keys nor the download link secret.
        let before = try MasterKeys(text: "k1 \(Self.hex1)\n")
        let after = try MasterKeys(text: "k1 \(Self.hex1)\nk2 \(Self.hex2)\n")
        #expect(before.linkSigningSecret == after.linkSigningSecret)
        #expect(before.linkSigningSecret.count == 32)
        #expect(before.linkSigningSecret != [UInt8](repeating: 0xab, count: 32))
        #expect(before.objectKey(keyID: "k1", objectKey: "x")?.key == after.objectKey(keyID: "k1", objectKey: "x")?.key)
    }

    @Test func generatedLineIsAValidKey() throws {
        // A line made by generateLine reads back as one fresh 32-byte key.
        let line = MasterKeys.generateLine(id: "k7")
        let keys = try MasterKeys(text: line)
        #expect(keys.current.id == "k7")
        #expect(keys.current.key.count == 32)
        #expect(MasterKeys.generateLine(id: "k7") != line)
    }
}
