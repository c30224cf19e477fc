/// What a deployment accepts.
public struct JWTVerifierConfiguration: Sendable {
    public var keys: [JWTKey]
    /// When set, `iss` must equal it exactly.
    public var issuer: String?
    /// When set, `aud` must equal it or be an array containing it.
    public var audience: String?
    /// Clock skew tolerated for `exp` and `nbf`.
    public var leewaySeconds: Int = 30
    /// Longer tokens are refused before any parsing.
    public var maxTokenBytes: Int = 8192

    public init(keys: [JWTKey], issuer: String? = nil, audience: String? = nil,
                leewaySeconds: Int = 30, maxTokenBytes: Int = 8192) {
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leewaySeconds = leewaySeconds
        self.maxTokenBytes = maxTokenBytes
    }

    /// Problems an operator should fix before serving (no keys, unusable or
    /// weak keys, duplicated ids, nonsensical limits). Empty when fine.
    public func problems() -> [String] {
        var found: [String] = []
        if keys.isEmpty { found.append("no JWT keys configured") }
        var seen: Set<String> = []
        for (i, key) in keys.enumerated() {
            let name = key.id.map { "key \"\($0)\"" } ?? "key #\(i + 1)"
            if let problem = key.problem { found.append("\(name): \(problem)") }
            if let id = key.id, !seen.insert(id).inserted { found.append("\(name): duplicated kid") }
        }
        if leewaySeconds < 0 || leewaySeconds > 600 { found.append("leewaySeconds must be 0...600") }
        if maxTokenBytes < 64 { found.append("maxTokenBytes too small") }
        return found
    }
}
