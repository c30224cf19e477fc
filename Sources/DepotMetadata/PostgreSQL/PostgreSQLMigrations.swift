/// Numbered schema migrations for PostgreSQL; `depot_schema.version` moves
/// from an entry's index to index + 1, in one transaction with the entry. A
/// shipped entry is never edited, only appended to. The tables are SQLite's
/// (same names and columns, so the shared statements run on both); text is
/// compared byte by byte (`COLLATE "C"`), as SQLite does, so listings sort
/// the same on both backends whatever the server's locale.
enum PostgreSQLMigrations {
    static let all: [String] = [
        // 1: the schema of SQLite's migrations 1 to 3 (accounts, plans,
        // files, reservations, counters, workflows, resumable uploads,
        // signed upload links).
        """
        CREATE TABLE plans (
            name TEXT COLLATE "C" PRIMARY KEY,
            quota_bytes BIGINT NOT NULL CHECK (quota_bytes >= 0),
            max_file_size_bytes BIGINT NOT NULL CHECK (max_file_size_bytes > 0),
            max_files BIGINT NOT NULL CHECK (max_files > 0),
            allowed_categories TEXT NOT NULL
        );
        CREATE TABLE organizations (
            id TEXT COLLATE "C" PRIMARY KEY,
            account_type TEXT NOT NULL CHECK (account_type IN ('individual', 'organization')),
            plan TEXT COLLATE "C" NOT NULL REFERENCES plans(name),
            used_bytes BIGINT NOT NULL DEFAULT 0,
            reserved_bytes BIGINT NOT NULL DEFAULT 0,
            file_count BIGINT NOT NULL DEFAULT 0,
            reserved_files BIGINT NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE users (
            organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations(id),
            id TEXT COLLATE "C" NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (organization_id, id)
        );
        CREATE TABLE files (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT COLLATE "C" NOT NULL UNIQUE,
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            object_key TEXT COLLATE "C" NOT NULL UNIQUE,
            object_name TEXT COLLATE "C" NOT NULL,
            original_filename TEXT COLLATE "C" NOT NULL,
            size BIGINT NOT NULL,
            content_type TEXT NOT NULL,
            category TEXT COLLATE "C" NOT NULL,
            sha256 TEXT NOT NULL,
            etag TEXT NOT NULL,
            key_id TEXT COLLATE "C" NOT NULL,
            uploaded_at BIGINT NOT NULL,
            bucket TEXT NOT NULL,
            workflow_id TEXT COLLATE "C",
            run_id TEXT COLLATE "C",
            direction TEXT COLLATE "C"
        );
        CREATE INDEX files_by_name ON files (organization_id, user_id, object_name);
        CREATE INDEX files_by_time ON files (organization_id, user_id, uploaded_at, seq);
        CREATE INDEX files_by_size ON files (organization_id, user_id, size, seq);
        CREATE INDEX files_by_original ON files (organization_id, user_id, original_filename, seq);
        CREATE INDEX files_by_category_time ON files (organization_id, user_id, category, uploaded_at, seq);
        CREATE TABLE usage_counters (
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            category TEXT COLLATE "C" NOT NULL,
            workflow_id TEXT COLLATE "C" NOT NULL DEFAULT '',
            direction TEXT COLLATE "C" NOT NULL DEFAULT '',
            bytes BIGINT NOT NULL DEFAULT 0,
            files BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (organization_id, user_id, category, workflow_id, direction)
        );
        CREATE TABLE workflows (
            organization_id TEXT COLLATE "C" NOT NULL,
            id TEXT COLLATE "C" NOT NULL,
            name TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (organization_id, id)
        );
        CREATE TABLE reservations (
            id TEXT COLLATE "C" PRIMARY KEY,
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            bytes BIGINT NOT NULL,
            object_key TEXT COLLATE "C" NOT NULL,
            upload_id TEXT,
            owner_pid BIGINT NOT NULL,
            owner_start TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        );
        CREATE INDEX reservations_by_expiry ON reservations (expires_at);
        CREATE INDEX reservations_by_key ON reservations (object_key);
        CREATE TABLE buckets (
            name TEXT COLLATE "C" PRIMARY KEY,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE pending_deletes (
            object_key TEXT COLLATE "C" PRIMARY KEY,
            upload_id TEXT,
            reason TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0
        );
        CREATE INDEX pending_deletes_by_age ON pending_deletes (created_at);
        CREATE TABLE resumable_uploads (
            id TEXT COLLATE "C" PRIMARY KEY,
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            reservation_id TEXT COLLATE "C" NOT NULL,
            object_key TEXT COLLATE "C" NOT NULL,
            object_name TEXT COLLATE "C" NOT NULL,
            original_filename TEXT NOT NULL,
            content_type TEXT NOT NULL,
            category TEXT NOT NULL,
            workflow_id TEXT,
            run_id TEXT,
            direction TEXT,
            workflow_name TEXT,
            metadata_header TEXT NOT NULL,
            length BIGINT NOT NULL CHECK (length > 0),
            "offset" BIGINT NOT NULL CHECK ("offset" >= 0 AND "offset" <= length),
            store_upload_id TEXT NOT NULL,
            key_id TEXT NOT NULL,
            parts_bytes BIGINT NOT NULL DEFAULT 0,
            part_count BIGINT NOT NULL DEFAULT 0,
            staged_key TEXT COLLATE "C",
            hash_state BYTEA NOT NULL,
            head BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            file_id TEXT,
            lock_owner TEXT,
            lock_until BIGINT NOT NULL DEFAULT 0
        );
        CREATE INDEX resumable_uploads_by_expiry ON resumable_uploads (expires_at);
        CREATE INDEX resumable_uploads_by_staged_key ON resumable_uploads (staged_key);
        CREATE INDEX resumable_uploads_by_organization ON resumable_uploads (organization_id, created_at);
        CREATE TABLE resumable_upload_parts (
            upload_id TEXT COLLATE "C" NOT NULL REFERENCES resumable_uploads(id) ON DELETE CASCADE,
            number BIGINT NOT NULL,
            etag TEXT NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (upload_id, number)
        );
        CREATE TABLE upload_links (
            id TEXT COLLATE "C" PRIMARY KEY,
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            category TEXT,
            max_size BIGINT NOT NULL CHECK (max_size > 0),
            secret_hash BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT,
            revoked_at BIGINT
        );
        CREATE INDEX upload_links_by_expiry ON upload_links (expires_at);
        """,
        // 2: SQLite's migration 4 (sharing, recorded download links, file
        // expiry, per-member quota, workflow and organization-wide indexes).
        """
        ALTER TABLE files ADD COLUMN expires_at BIGINT;
        CREATE INDEX files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
        CREATE INDEX files_by_workflow ON files (organization_id, workflow_id, run_id, uploaded_at, seq) WHERE workflow_id IS NOT NULL;
        CREATE INDEX files_by_organization_time ON files (organization_id, uploaded_at, seq);
        CREATE INDEX files_by_organization_size ON files (organization_id, size, seq);
        CREATE INDEX files_by_organization_original ON files (organization_id, original_filename, seq);
        CREATE INDEX reservations_by_user ON reservations (organization_id, user_id);
        ALTER TABLE resumable_uploads ADD COLUMN file_expires_in BIGINT CHECK (file_expires_in IS NULL OR file_expires_in > 0);
        ALTER TABLE plans ADD COLUMN member_quota_bytes BIGINT CHECK (member_quota_bytes IS NULL OR member_quota_bytes > 0);
        CREATE TABLE shares (
            id TEXT COLLATE "C" PRIMARY KEY,
            organization_id TEXT COLLATE "C" NOT NULL,
            object_key TEXT COLLATE "C" NOT NULL,
            owner_id TEXT COLLATE "C" NOT NULL,
            grantee_id TEXT COLLATE "C" NOT NULL,
            created_by TEXT COLLATE "C" NOT NULL,
            created_at BIGINT NOT NULL,
            uploaded_at BIGINT NOT NULL,
            size BIGINT NOT NULL,
            original_filename TEXT COLLATE "C" NOT NULL,
            category TEXT COLLATE "C" NOT NULL,
            UNIQUE (object_key, grantee_id)
        );
        CREATE INDEX shares_by_grantee_time ON shares (organization_id, grantee_id, uploaded_at, object_key, owner_id);
        CREATE INDEX shares_by_grantee_size ON shares (organization_id, grantee_id, size, object_key, owner_id);
        CREATE INDEX shares_by_grantee_original ON shares (organization_id, grantee_id, original_filename, object_key, owner_id);
        CREATE TABLE download_links (
            id TEXT COLLATE "C" PRIMARY KEY,
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            object_key TEXT COLLATE "C" NOT NULL,
            type TEXT NOT NULL,
            signature_digest TEXT COLLATE "C" NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        );
        CREATE INDEX download_links_by_user ON download_links (organization_id, user_id, expires_at);
        CREATE INDEX download_links_by_key ON download_links (object_key);
        CREATE INDEX download_links_by_expiry ON download_links (expires_at);
        """,
        // 3: SQLite's migration 5 (events: the outbox, deliveries, quota thresholds).
        """
        CREATE TABLE events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT COLLATE "C" NOT NULL UNIQUE,
            type TEXT COLLATE "C" NOT NULL,
            organization_id TEXT COLLATE "C" NOT NULL,
            created_at BIGINT NOT NULL,
            payload TEXT NOT NULL
        );
        CREATE INDEX events_by_time ON events (created_at);
        CREATE TABLE event_deliveries (
            event_id TEXT COLLATE "C" NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            endpoint TEXT COLLATE "C" NOT NULL,
            organization_id TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts BIGINT NOT NULL DEFAULT 0,
            failures BIGINT NOT NULL DEFAULT 0,
            next_attempt_at BIGINT NOT NULL,
            pending_since BIGINT NOT NULL,
            last_error TEXT,
            delivered_at BIGINT,
            PRIMARY KEY (event_id, endpoint)
        );
        CREATE INDEX event_deliveries_due ON event_deliveries (status, next_attempt_at);
        CREATE INDEX event_deliveries_by_organization ON event_deliveries (endpoint, organization_id, status);
        CREATE TABLE quota_thresholds (
            organization_id TEXT COLLATE "C" PRIMARY KEY,
            threshold BIGINT NOT NULL
        );
        """,
        // 4: one category of a grantee's shares in upload order: the
        // admins' list of files shared organization-wide, and a member's
        // shared listing, filtered by category, page through it.
        """
        CREATE INDEX shares_by_grantee_category_time ON shares (organization_id, grantee_id, category, uploaded_at, object_key, owner_id);
        """,
        // 5: SQLite's migration 7 (one-time console logins).
        """
        CREATE TABLE console_logins (
            id TEXT COLLATE "C" PRIMARY KEY,
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            role TEXT COLLATE "C" NOT NULL CHECK (role IN ('member', 'admin')),
            account_type TEXT COLLATE "C",
            token_lifetime BIGINT NOT NULL,
            secret_hash BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT
        );
        CREATE INDEX console_logins_by_expiry ON console_logins (expires_at);
        CREATE INDEX console_logins_by_user ON console_logins (organization_id, user_id);
        """,
        // 6: SQLite's migration 8 (share counters).
        """
        CREATE TABLE share_counts (
            organization_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            category TEXT COLLATE "C" NOT NULL,
            grants BIGINT NOT NULL DEFAULT 0,
            own_org_grants BIGINT NOT NULL DEFAULT 0,
            double_grants BIGINT NOT NULL DEFAULT 0,
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
