import DepotDomain

extension SQLMetadataStore {
    private static let loginColumns = "id, organization_id, user_id, role, account_type, token_lifetime, secret_hash, created_at, expires_at, used_at"

    private static func login(_ r: Row) -> ConsoleLogin {
        ConsoleLogin(id: r.text(0), organizationID: r.text(1), userID: r.text(2), role: r.text(3),
                     accountType: r.optionalText(4).flatMap(AccountKind.init(rawValue:)), tokenLifetime: r.int(5), secretHash: r.blob(6),
                     createdAt: r.int(7), expiresAt: r.int(8), usedAt: r.optionalInt(9))
    }

    public func createConsoleLogin(_ l: ConsoleLogin) throws {
        try db.writeTransaction {
            try db.run("INSERT INTO console_logins (\(Self.loginColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                       [.text(l.id), .text(l.organizationID), .text(l.userID), .text(l.role), .optional(l.accountType?.rawValue),
                        .int(l.tokenLifetime), .blob(l.secretHash), .int(l.createdAt), .int(l.expiresAt)])
        }
    }

    public func consoleLogin(id: String) throws -> ConsoleLogin? {
        try db.first("SELECT \(Self.loginColumns) FROM console_logins WHERE id = ?", [.text(id)], Self.login)
    }

    public func claimConsoleLogin(id: String, now: Int64) throws -> Bool {
        try db.writeTransaction {
            try db.run("UPDATE console_logins SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?",
                       [.int(now), .text(id), .int(now)])
            return db.changes == 1
        }
    }

    public func purgeExpiredConsoleLogins(now: Int64, dryRun: Bool) throws -> Int {
        try purgeExpired("console_logins", now: now, dryRun: dryRun)
    }
}
