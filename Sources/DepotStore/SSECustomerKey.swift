import DepotCrypto
import Foundation

/// An SSE-C (customer-provided) AES-256 key.
public struct SSECustomerKey {
    public let key: [UInt8]

    /// `key` must be 32 bytes (AES-256).
    public init(key: [UInt8]) {
        precondition(key.count == 32, "SSE-C keys are 32 bytes")
        self.key = key
    }

    /// The three `x-amz-server-side-encryption-customer-*` request headers.
    public var headers: [(String, String)] {
        [
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", Data(key).base64EncodedString()),
            ("x-amz-server-side-encryption-customer-key-MD5", Data(DigestHasher.hash(.md5, key)).base64EncodedString()),
        ]
    }
}

extension SSECustomerKey: CustomStringConvertible, CustomDebugStringConvertible {
    /// Never shows the key.
    public var description: String { "SSECustomerKey(<redacted>)" }
    public var debugDescription: String { description }
}
