import DepotDomain
import DepotEncoding

/// Verifies Bearer tokens and turns them into an `Identity`.
///
/// Order of checks: size, shape (three base64url parts), header (`alg` among
/// the configured algorithms, no `crit`, `kid` known), signature with keys of
/// the header's algorithm only, then claims (`exp`, `nbf`, `iat`, `iss`,
/// `aud`, `sub`, `org`, `role`, `acct`). Every refusal throws `AuthError`.
public struct JWTVerifier: Sendable {
    public let configuration: JWTVerifierConfiguration

    public init(_ config: JWTVerifierConfiguration) {
        self.configuration = config
    }

    /// Largest magnitude accepted for `exp`, `nbf`, `iat` (2^53 - 1, where
    /// Double still holds every integer).
    static let maxTimestamp = 9_007_199_254_740_991.0

    public func verify(_ token: String, now: Int64) throws -> Identity {
        guard token.utf8.count <= configuration.maxTokenBytes else {
            throw AuthError("token longer than \(configuration.maxTokenBytes) bytes")
        }
        let bytes = Array(token.utf8)

        // Shape: exactly three dot-separated base64url parts.
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2 else { throw AuthError("token does not have three parts") }
        let headerPart = bytes[..<dots[0]]
        let payloadPart = bytes[(dots[0] + 1)..<dots[1]]
        let signaturePart = bytes[(dots[1] + 1)...]
        guard let headerBytes = decodeSegment(headerPart),
              let payloadBytes = decodeSegment(payloadPart),
              let signature = decodeSegment(signaturePart)
        else { throw AuthError("token part is not canonical base64url") }

        // Header.
        guard let header = StrictJSONParser.parseObject(headerBytes) else {
            throw AuthError("header is not a JSON object (or has duplicated names)")
        }
        guard case .string(let algName)? = header["alg"] else { throw AuthError("header alg missing") }
        if algName.lowercased() == "none" { throw AuthError("alg none refused") }
        guard let algorithm = JWTAlgorithm(rawValue: algName),
              configuration.keys.contains(where: { $0.algorithm == algorithm })
        else { throw AuthError("alg not accepted") }
        if header["crit"] != nil { throw AuthError("crit header refused") }

        var candidates: [JWTKey]
        switch header["kid"] {
        case nil:
            candidates = configuration.keys.filter { $0.algorithm == algorithm }
        case .string(let kid)?:
            let named = configuration.keys.filter { key in key.id.map { exactlyEqual($0, kid) } ?? false }
            guard !named.isEmpty else { throw AuthError("unknown kid") }
            candidates = named.filter { $0.algorithm == algorithm }
            guard !candidates.isEmpty else { throw AuthError("kid is not a \(algorithm.rawValue) key") }
        default:
            throw AuthError("kid is not a string")
        }

        // Signature over the exact bytes received: "header.payload".
        let signingInput = Array(bytes[..<dots[1]])
        guard candidates.contains(where: { $0.verifies(signingInput: signingInput, signature: signature) }) else {
            throw AuthError("signature does not verify")
        }

        // Claims.
        guard let claims = StrictJSONParser.parseObject(payloadBytes) else {
            throw AuthError("payload is not a JSON object (or has duplicated names)")
        }
        return try identity(from: claims, now: now)
    }

    private func identity(from claims: [String: StrictJSON], now: Int64) throws -> Identity {
        let leeway = Double(configuration.leewaySeconds)
        let current = Double(now)

        guard let expClaim = claims["exp"] else { throw AuthError("exp missing") }
        let exp = try timestamp(expClaim, "exp")
        guard current <= exp + leeway else { throw AuthError("token expired") }
        if let nbfClaim = claims["nbf"] {
            let nbf = try timestamp(nbfClaim, "nbf")
            guard current + leeway >= nbf else { throw AuthError("token not yet valid") }
        }
        if let iatClaim = claims["iat"] {
            _ = try timestamp(iatClaim, "iat")
        }

        if let issuer = configuration.issuer {
            guard case .string(let iss)? = claims["iss"], exactlyEqual(iss, issuer) else {
                throw AuthError("iss does not match")
            }
        }
        if let audience = configuration.audience {
            switch claims["aud"] {
            case .string(let aud)?:
                guard exactlyEqual(aud, audience) else { throw AuthError("aud does not match") }
            case .array(let list)?:
                var strings: [String] = []
                for element in list {
                    guard case .string(let s) = element else { throw AuthError("aud array holds a non-string") }
                    strings.append(s)
                }
                guard strings.contains(where: { exactlyEqual($0, audience) }) else { throw AuthError("aud does not match") }
            default:
                throw AuthError("aud missing")
            }
        }

        guard case .string(let sub)? = claims["sub"], let userID = UUIDs.canonical(sub) else {
            throw AuthError("sub missing or not a UUID")
        }
        guard case .string(let org)? = claims["org"], let organizationID = UUIDs.canonical(org) else {
            throw AuthError("org missing or not a UUID")
        }

        let role: Role
        switch claims["role"] {
        case nil: role = .member
        case .string(let value)?:
            guard let r = Role(rawValue: value) else { throw AuthError("role not member or admin") }
            role = r
        default: throw AuthError("role is not a string")
        }

        let accountType: AccountKind?
        switch claims["acct"] {
        case nil: accountType = nil
        case .string(let value)?:
            guard let a = AccountKind(rawValue: value) else { throw AuthError("acct not individual or organization") }
            accountType = a
        default: throw AuthError("acct is not a string")
        }

        return Identity(userID: userID, organizationID: organizationID, role: role,
                        accountType: accountType, expiresAt: Int64(exp.rounded(.down)))
    }

    /// A NumericDate claim: a finite JSON number within ±(2^53 - 1).
    private func timestamp(_ value: StrictJSON, _ name: String) throws -> Double {
        guard case .number(let n) = value else { throw AuthError("\(name) is not a number") }
        guard n.isFinite, abs(n) <= Self.maxTimestamp else { throw AuthError("\(name) out of range") }
        return n
    }
}

/// Decodes one token part, refusing anything but canonical unpadded
/// base64url (so one token has exactly one spelling).
private func decodeSegment(_ part: ArraySlice<UInt8>) -> [UInt8]? {
    Base64URL.decode(part)
}

/// Byte-for-byte string equality (Swift's `==` would equate canonically
/// equivalent Unicode spellings).
private func exactlyEqual(_ a: String, _ b: String) -> Bool {
    a.utf8.elementsEqual(b.utf8)
}
