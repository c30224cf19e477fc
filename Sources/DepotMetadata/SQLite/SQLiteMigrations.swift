import Foundation

/// Numbered schema migrations. Each entry moves `PRAGMA user_version` from
/// its index to index + 1; a shipped entry is never edited, only appended to.
enum SQLiteMigrations {
    static let all: [String] = [
        // 1: accounts, plans, files, reservations, usage counters, workflows.
        """
        CREATE TABLE plans (
            name TEXT PRIMARY KEY,
            quota_bytes INTEGER NOT NULL CHECK (quota_bytes >= 0),
            max_file_size_bytes INTEGER NOT NULL CHECK (max_file_size_bytes > 0),
            max_files INTEGER NOT NULL CHECK (max_files > 0),
            allowed_categories TEXT NOT NULL
        );
        CREATE TABLE organizations (
            id TEXT PRIMARY KEY,
            account_type TEXT NOT NULL CHECK (account_type IN ('individual', 'organization')),
            plan TEXT NOT NULL REFERENCES plans(name),
            used_bytes INTEGER NOT NULL DEFAULT 0,
            reserved_bytes INTEGER NOT NULL DEFAULT 0,
            file_count INTEGER NOT NULL DEFAULT 0,
            reserved_files INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE users (
            organization_id TEXT NOT NULL REFERENCES organizations(id),
            id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (organization_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE files (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            object_key TEXT NOT NULL UNIQUE,
            object_name TEXT NOT NULL,
            original_filename TEXT NOT NULL,
            size INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            category TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            etag TEXT NOT NULL,
            key_id TEXT NOT NULL,
            uploaded_at INTEGER NOT NULL,
            bucket TEXT NOT NULL,
            workflow_id TEXT,
            run_id TEXT,
            direction TEXT
        );
        CREATE INDEX files_by_name ON files (organization_id, user_id, object_name);
        CREATE INDEX files_by_time ON files (organization_id, user_id, uploaded_at);
        CREATE INDEX files_by_size ON files (organization_id, user_id, size);
        CREATE INDEX files_by_original ON files (organization_id, user_id, original_filename);
        CREATE INDEX files_by_category_time ON files (organization_id, user_id, category, uploaded_at);
        CREATE TABLE usage_counters (
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            category TEXT NOT NULL,
            workflow_id TEXT NOT NULL DEFAULT '',
            direction TEXT NOT NULL DEFAULT '',
            bytes INTEGER NOT NULL DEFAULT 0,
            files INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (organization_id, user_id, category, workflow_id, direction)
        ) WITHOUT ROWID;
        CREATE TABLE workflows (
            organization_id TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (organization_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE reservations (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            object_key TEXT NOT NULL,
            upload_id TEXT,
            owner_pid INTEGER NOT NULL,
            owner_start TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );
        CREATE INDEX reservations_by_expiry ON reservations (expires_at);
        CREATE TABLE buckets (
            name TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE pending_deletes (
            object_key TEXT PRIMARY KEY,
            upload_id TEXT,
            reason TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0
        );
        """,
        // 2: resumable (tus) uploads and their parts.
        """
        CREATE TABLE resumable_uploads (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            reservation_id TEXT NOT NULL,
            object_key TEXT NOT NULL,
            object_name TEXT NOT NULL,
            original_filename TEXT NOT NULL,
            content_type TEXT NOT NULL,
            category TEXT NOT NULL,
            workflow_id TEXT,
            run_id TEXT,
            direction TEXT,
            workflow_name TEXT,
            metadata_header TEXT NOT NULL,
            length INTEGER NOT NULL CHECK (length > 0),
            offset INTEGER NOT NULL CHECK (offset >= 0 AND offset <= length),
            store_upload_id TEXT NOT NULL,
            key_id TEXT NOT NULL,
            parts_bytes INTEGER NOT NULL DEFAULT 0,
            part_count INTEGER NOT NULL DEFAULT 0,
            staged_key TEXT,
            hash_state BLOB NOT NULL,
            head BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            file_id TEXT,
            lock_owner TEXT,
            lock_until INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX resumable_uploads_by_expiry ON resumable_uploads (expires_at);
        CREATE INDEX resumable_uploads_by_staged_key ON resumable_uploads (staged_key);
        CREATE TABLE resumable_upload_parts (
            upload_id TEXT NOT NULL REFERENCES resumable_uploads(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            etag TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (upload_id, number)
        ) WITHOUT ROWID;
        """,
        // 3: signed upload links (only a hash of each token's secret).
        """
        CREATE TABLE upload_links (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            category TEXT,
            max_size INTEGER NOT NULL CHECK (max_size > 0),
            secret_hash BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER,
            revoked_at INTEGER
        );
        CREATE INDEX upload_links_by_expiry ON upload_links (expires_at);
        """,
        // 4: sharing, recorded download links, file expiry, per-member quota,
        // and the indexes for workflow and organization-wide listings.
        """
        ALTER TABLE files ADD COLUMN expires_at INTEGER;
        CREATE INDEX files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
        CREATE INDEX files_by_workflow ON files (organization_id, workflow_id, run_id, uploaded_at) WHERE workflow_id IS NOT NULL;
        CREATE INDEX files_by_organization_time ON files (organization_id, uploaded_at);
        CREATE INDEX files_by_organization_size ON files (organization_id, size);
        CREATE INDEX files_by_organization_original ON files (organization_id, original_filename);
        CREATE INDEX reservations_by_user ON reservations (organization_id, user_id);
        ALTER TABLE resumable_uploads ADD COLUMN file_expires_in INTEGER CHECK (file_expires_in IS NULL OR file_expires_in > 0);
        ALTER TABLE plans ADD COLUMN member_quota_bytes INTEGER CHECK (member_quota_bytes IS NULL OR member_quota_bytes > 0);
        CREATE TABLE shares (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            object_key TEXT NOT NULL,
            owner_id TEXT NOT NULL,
            grantee_id TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            uploaded_at INTEGER NOT NULL,
            size INTEGER NOT NULL,
            original_filename TEXT NOT NULL,
            category TEXT NOT NULL,
            UNIQUE (object_key, grantee_id)
        );
        CREATE INDEX shares_by_grantee_time ON shares (organization_id, grantee_id, uploaded_at, object_key, owner_id);
        CREATE INDEX shares_by_grantee_size ON shares (organization_id, grantee_id, size, object_key, owner_id);
        CREATE INDEX shares_by_grantee_original ON shares (organization_id, grantee_id, original_filename, object_key, owner_id);
        CREATE TABLE download_links (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            object_key TEXT NOT NULL,
            type TEXT NOT NULL,
            signature_digest TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );
        CREATE INDEX download_links_by_user ON download_links (organization_id, user_id, expires_at);
        CREATE INDEX download_links_by_key ON download_links (object_key);
        CREATE INDEX download_links_by_expiry ON download_links (expires_at);
        """,
        // 5: events (webhooks): the outbox, one delivery row per endpoint
        // and event, and the highest quota threshold reported per organization.
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            organization_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            payload TEXT NOT NULL
        );
        CREATE INDEX events_by_time ON events (created_at);
        CREATE TABLE event_deliveries (
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            endpoint TEXT NOT NULL,
            organization_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            pending_since INTEGER NOT NULL,
            last_error TEXT,
            delivered_at INTEGER,
            PRIMARY KEY (event_id, endpoint)
        );
        CREATE INDEX event_deliveries_due ON event_deliveries (status, next_attempt_at);
        CREATE INDEX event_deliveries_by_organization ON event_deliveries (endpoint, organization_id, status);
        CREATE TABLE quota_thresholds (
            organization_id TEXT PRIMARY KEY,
            threshold INTEGER NOT NULL
        );
        """,
        // 6: one category of a grantee's shares in upload order: the
        // admins' list of files shared organization-wide, and a member's
        // shared listing, filtered by category, page through it.
        """
        CREATE INDEX shares_by_grantee_category_time ON shares (organization_id, grantee_id, category, uploaded_at, object_key, owner_id);
        """,
        // 7: one-time console logins (`depotctl token issue --console`):
        // the SHA-256 of each code's secret, what token it gives, and when
        // it was redeemed.
        """
        CREATE TABLE console_logins (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('member', 'admin')),
            account_type TEXT,
            token_lifetime INTEGER NOT NULL,
            secret_hash BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER
        );
        CREATE INDEX console_logins_by_expiry ON console_logins (expires_at);
        CREATE INDEX console_logins_by_user ON console_logins (organization_id, user_id);
        """,
        // 8: share counters (`SQLMetadataStore+ShareCounts.swift`), counted
        // from the shares there are; the shared listings' totals read them.
        """
        CREATE TABLE share_counts (
            organization_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            category TEXT NOT NULL,
            grants INTEGER NOT NULL DEFAULT 0,
            own_org_grants INTEGER NOT NULL DEFAULT 0,
            double_grants INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (organization_id, user_id, category)
        );
        INSERT INTO share_counts (organization_id, user_id, category, grants, own_org_grants, double_grants)
        SELECT organization_id, user_id, category, SUM(grants), SUM(own_org_grants), SUM(double_grants) FROM (
            SELECT organization_id, grantee_id AS user_id, category, 1 AS grants, 0 AS own_org_grants, 0 AS double_grants FROM shares
            UNION ALL
            SELECT organization_id, owner_id, category, 0, 1, 0 FROM shares WHERE grantee_id = ''
            UNION ALL
            SELECT organization_id, grantee_id, category, 0, 0, 1 FROM shares WHERE grantee_id <> ''
                AND EXISTS (SELECT 1 FROM shares e WHERE e.object_key = shares.object_key AND e.grantee_id = '')
        ) AS counted GROUP BY organization_id, user_id, category;
        """,
    ]
}
