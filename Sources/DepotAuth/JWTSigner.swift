import DepotCrypto
import DepotEncoding
import Foundation

/// Issues tokens, for the dev stack, the admin tool and tests. The server
/// itself only verifies.
public enum JWTSigner {
    /// An HS256 token over `claims`. `claims` must be JSON-serializable
    /// (strings, numbers, booleans, arrays, dictionaries); anything else is a
    /// programming error and traps. Use `token(...)` for a throwing variant.
    public static func hs256(secret: [UInt8], claims: [String: Any], keyID: String? = nil) -> String {
        do {
            return try token(algorithm: .hs256, claims: claims, keyID: keyID) { input in
                guard let mac = HMAC.checkedSHA256(key: secret, message: input) else {
                    throw AuthError("HMAC failed")
                }
                return mac
            }
        } catch {
            preconditionFailure("JWTSigner.hs256: \(error)")
        }
    }

    /// An ES256 token signed with an EC P-256 private key.
    public static func es256(privateKey: PrivateKey, claims: [String: Any], keyID: String? = nil) throws -> String {
        try token(algorithm: .es256, claims: claims, keyID: keyID) { try privateKey.signES256(message: $0) }
    }

    /// An RS256 token signed with an RSA private key.
    public static func rs256(privateKey: PrivateKey, claims: [String: Any], keyID: String? = nil) throws -> String {
        try token(algorithm: .rs256, claims: claims, keyID: keyID) { try privateKey.signRS256(message: $0) }
    }

    /// Builds `header.payload.signature` with header `{"alg","kid"?,"typ":"JWT"}`.
    /// Throws if `claims` cannot be serialized or signing fails.
    public static func token(algorithm: JWTAlgorithm, claims: [String: Any], keyID: String?,
                             sign: ([UInt8]) throws -> [UInt8]) throws -> String {
        var header: [String: Any] = ["alg": algorithm.rawValue, "typ": "JWT"]
        if let keyID { header["kid"] = keyID }
        let input = try encodePart(header) + "." + encodePart(claims)
        return input + "." + Base64URL.encode(try sign(Array(input.utf8)))
    }

    private static func encodePart(_ object: [String: Any]) throws -> String {
        guard JSONSerialization.isValidJSONObject(object) else {
            throw AuthError("claims are not JSON-serializable")
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Base64URL.encode(data)
    }
}
