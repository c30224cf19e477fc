"""The only Python in this repository that opens Depot's database (SQLite,
or PostgreSQL through psycopg).

Everything else reads and changes what the database holds through the HTTP
API or depotctl (scripts/depotctl_cli.py). What is here cannot go through
either, by design:

- The independent consistency oracle's reads (used by
  scripts/reliability/consistency.py): counters against the records they
  count, reservations against their counters, records against their folders
  and plans, integrity and foreign-key checks. It checks Depot's own
  bookkeeping, so it must not ask Depot.
- Reads of a backup copy as a file of its own (journal mode, integrity,
  what it holds), without opening it the way Depot would (that changes it).
- Faults tests inject below the API: hold the write lock, corrupt usage
  counters, plant a reservation for a live worker, delete or alter a record
  behind the API's back, name a key id the key file lacks, stamp a newer
  schema version, and steady raw writes while a backup runs.
- Synthetic scale data for `make bench`: up to a million file records, far
  too many to upload in reasonable time (and, on PostgreSQL, their VACUUM,
  and the bench's samples of pg_stat_activity under load).
- Another node's session: the clean-up's advisory lock held elsewhere.

`where` is a stack (anything with `path()`: the database is
RUN_DIR/data/depot.sqlite3, or, for a stack on PostgreSQL, the one its
`database_url` names, with the password in `database_password_file`; a run
directory with a `database.url` file holds the password in
secrets/database.password), a `Postgres(url, password_file)`, or the path of
a SQLite database file.

The statements are written once, with `?` placeholders, in the SQL both
backends share; the few that cannot be (SQLite's PRAGMAs, its write lock,
its files) have a PostgreSQL counterpart or are SQLite's alone (backup
copies, ballast, steady writes).
"""
import collections
import contextlib
import os
import sqlite3
import sys
import time
import uuid

Postgres = collections.namedtuple("Postgres", "database_url database_password_file")


def postgres_target(where):
    """(url, password) when `where` names a PostgreSQL database, else None."""
    url = getattr(where, "database_url", None)
    if url:
        password_file = where.database_password_file
    elif hasattr(where, "path") and os.path.exists(where.path("database.url")):
        with open(where.path("database.url")) as f:
            url = f.read().strip()
        password_file = where.path("secrets", "database.password")
    else:
        return None
    password = None
    if password_file:
        with open(password_file) as f:
            password = f.read().strip()
    return url, password


def database_path(where):
    if isinstance(where, (str, os.PathLike)):
        return os.fspath(where)
    if postgres_target(where):
        raise ValueError("a PostgreSQL database has no file")
    return where.path("data", "depot.sqlite3")


class PostgresConnection:
    """Just enough of sqlite3.Connection over psycopg for the statements
    here: `?` placeholders, execute/executemany, `with` = one transaction.
    Sums come back as int, as SQLite gives them."""

    def __init__(self, url, password, timeout=30, autocommit=False, repeatable_read=False):
        import psycopg
        from psycopg.types.numeric import IntLoader
        self.conn = psycopg.connect(url, password=password, connect_timeout=max(2, int(timeout)),
                                    autocommit=autocommit)
        self.conn.adapters.register_loader("numeric", IntLoader)
        if repeatable_read:  # every read of one check sees one snapshot
            self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        # A lock wait gives up as SQLite's busy timeout would.
        self.conn.execute(f"SET lock_timeout = {int(timeout * 1000)}")
        if not autocommit:
            self.conn.commit()

    @staticmethod
    def _sql(sql):
        return sql.replace("?", "%s")

    def execute(self, sql, params=None):
        return self.conn.execute(self._sql(sql), params)

    def executemany(self, sql, rows):
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def commit(self):
        self.conn.commit()

    def rollback(self):
        self.conn.rollback()

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()


def is_postgres(conn):
    return isinstance(conn, PostgresConnection)


def _connect(where, timeout=30, **kwargs):
    target = postgres_target(where)
    if target:
        return PostgresConnection(*target, timeout=timeout, autocommit=kwargs.get("isolation_level", "") is None,
                                  repeatable_read=kwargs.get("repeatable_read", False))
    kwargs.pop("repeatable_read", None)
    # Read-write open (WAL readers need the -shm file) unless told otherwise.
    return sqlite3.connect(database_path(where), timeout=timeout, **kwargs)


MAINTENANCE_LOCK = 0x4465_706F_7402  # PostgreSQLAdvisoryLock.maintenance


def _sqlite_only(where, what):
    if postgres_target(where):
        raise NotImplementedError(f"{what} is for SQLite databases only")


@contextlib.contextmanager
def _transaction(where, timeout=30):
    conn = _connect(where, timeout)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


# --------------------------------------------------- consistency oracle reads

def check_counters(conn):
    """Counters against records and reservations; returns problems."""
    problems = []
    orgs = {r[0]: r[1:] for r in conn.execute(
        "SELECT id, used_bytes, file_count, reserved_bytes, reserved_files FROM organizations")}
    files = {r[0]: r[1:] for r in conn.execute(
        "SELECT organization_id, COALESCE(SUM(size), 0), COUNT(*) FROM files GROUP BY organization_id")}
    counters = {r[0]: r[1:] for r in conn.execute(
        "SELECT organization_id, COALESCE(SUM(bytes), 0), COALESCE(SUM(files), 0) FROM usage_counters GROUP BY organization_id")}
    reservations = {r[0]: r[1:] for r in conn.execute(
        "SELECT organization_id, COALESCE(SUM(bytes), 0), COUNT(*) FROM reservations GROUP BY organization_id")}
    for org in sorted(set(orgs) | set(files) | set(counters) | set(reservations)):
        if org not in orgs:
            problems.append(f"org {org}: files, counters or reservations without an organizations row")
            continue
        used, count, reserved_bytes, reserved_files = orgs[org]
        f_bytes, f_count = files.get(org, (0, 0))
        c_bytes, c_count = counters.get(org, (0, 0))
        r_bytes, r_count = reservations.get(org, (0, 0))
        if min(used, count, reserved_bytes, reserved_files) < 0:
            problems.append(f"org {org}: negative counter (used {used}, files {count}, reserved {reserved_bytes}/{reserved_files})")
        if (used, count) != (f_bytes, f_count):
            problems.append(f"org {org}: used_bytes/file_count {used}/{count} != file records {f_bytes}/{f_count}")
        if (c_bytes, c_count) != (f_bytes, f_count):
            problems.append(f"org {org}: usage_counters {c_bytes}/{c_count} != file records {f_bytes}/{f_count}")
        if (reserved_bytes, reserved_files) != (r_bytes, r_count):
            problems.append(f"org {org}: reserved_bytes/reserved_files {reserved_bytes}/{reserved_files} "
                            f"!= live reservations {r_bytes}/{r_count}")
    # Row by row: each counter equals the records of its (user, category, workflow, direction).
    by_group = {tuple(r[:5]): r[5:] for r in conn.execute(
        "SELECT organization_id, user_id, category, COALESCE(workflow_id, ''), COALESCE(direction, ''), SUM(size), COUNT(*) "
        "FROM files GROUP BY 1, 2, 3, 4, 5")}
    rows = {tuple(r[:5]): r[5:] for r in conn.execute(
        "SELECT organization_id, user_id, category, workflow_id, direction, bytes, files FROM usage_counters")}
    for group in sorted(set(by_group) | set(rows)):
        want = by_group.get(group, (0, 0))
        have = rows.get(group, (0, 0))
        if tuple(want) != tuple(have):
            problems.append(f"usage_counters {group}: {have[0]} bytes/{have[1]} files != records {want[0]}/{want[1]}")
    problems += check_share_counts(conn)
    return problems


def check_share_counts(conn):
    """`share_counts` against the shares, counted here in Python (not with
    Depot's SQL): per (organization, user, category) the grants to the user
    (to '' the organization-wide ones), the organization-wide grants of the
    user's own files, and the files granted to the user both ways."""
    shares = conn.execute("SELECT organization_id, object_key, owner_id, grantee_id, category FROM shares").fetchall()
    everyone = {key for _, key, _, grantee, _ in shares if grantee == ""}
    want = {}
    for org, key, owner, grantee, category in shares:
        row = want.setdefault((org, grantee, category), [0, 0, 0])
        row[0] += 1
        if grantee == "":
            want.setdefault((org, owner, category), [0, 0, 0])[1] += 1
        elif key in everyone:
            row[2] += 1
    have = {tuple(r[:3]): list(r[3:]) for r in conn.execute(
        "SELECT organization_id, user_id, category, grants, own_org_grants, double_grants FROM share_counts")}
    return [f"share_counts {group}: {have.get(group, [0, 0, 0])} != shares {want.get(group, [0, 0, 0])}"
            for group in sorted(set(want) | set(have)) if have.get(group, [0, 0, 0]) != want.get(group, [0, 0, 0])]


def check_records(conn, bucket=None):
    """Each record lives under its own organization's folder, in the bucket,
    with a user row; no queued delete names a live record; no organization
    holds more than its plan allows."""
    problems = []
    bad = conn.execute("SELECT object_key, organization_id FROM files "
                       "WHERE substr(object_key, 1, length('organizations/' || organization_id || '/')) "
                       "!= 'organizations/' || organization_id || '/' LIMIT 5").fetchall()
    for key, org in bad:
        problems.append(f"record {key} is outside its organization {org}")
    if bucket:
        n = conn.execute("SELECT COUNT(*) FROM files WHERE bucket != ?", (bucket,)).fetchone()[0]
        if n:
            problems.append(f"{n} records name a bucket other than {bucket}")
    n = conn.execute("SELECT COUNT(*) FROM files f WHERE NOT EXISTS "
                     "(SELECT 1 FROM users u WHERE u.organization_id = f.organization_id AND u.id = f.user_id)").fetchone()[0]
    if n:
        problems.append(f"{n} records belong to no user row")
    queued = conn.execute("SELECT p.object_key FROM pending_deletes p JOIN files f ON f.object_key = p.object_key LIMIT 5").fetchall()
    for (key,) in queued:
        problems.append(f"{key} has a record and is queued for deletion")
    for org, used, count, quota, max_files in conn.execute(
            "SELECT o.id, o.used_bytes, o.file_count, p.quota_bytes, p.max_files FROM organizations o JOIN plans p ON p.name = o.plan"):
        if used > quota or count > max_files:
            problems.append(f"org {org}: {used} bytes in {count} files exceed its plan ({quota} bytes, {max_files} files)")
    return problems


def check_database(conn):
    problems = []
    if is_postgres(conn):
        # PostgreSQL enforces its foreign keys itself; a constraint it does
        # not check (NOT VALID) would be a problem.
        unchecked = conn.execute("SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                                 "WHERE n.nspname = current_schema() AND NOT c.convalidated").fetchall()
        if unchecked:
            problems.append(f"constraints not validated: {[r[0] for r in unchecked]}")
    else:
        result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            problems.append("PRAGMA integrity_check: " + "; ".join(result[:10]))
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"PRAGMA foreign_key_check: {len(fk)} violations, e.g. {fk[:3]}")
    dup = conn.execute("SELECT object_key FROM files WHERE object_key IN (SELECT object_key FROM reservations)").fetchall()
    if dup:
        problems.append(f"{len(dup)} keys are both a file record and a reservation, e.g. {dup[0][0]}")
    return problems


def bookkeeping_problems(where, bucket=None, since=None):
    """The database's own checks before gc: integrity, counters, records, and
    (with `since`, unix seconds) reservations older than the scenario."""
    conn = _connect(where, repeatable_read=True)
    try:
        problems = check_database(conn) + check_counters(conn) + check_records(conn, bucket)
        if since is not None:
            for rid, org, key, created in conn.execute(
                    "SELECT id, organization_id, object_key, created_at FROM reservations WHERE created_at < ?", (int(since),)):
                problems.append(f"reservation {rid} of org {org} ({key}) is from before the scenario "
                                f"({time.strftime('%H:%M:%S', time.localtime(created))})")
        return problems
    finally:
        conn.close()


def after_gc(where):
    """After one gc pass: (counter problems, reservations left as (id, org,
    key, worker pid), queued deletes as (key, reason, attempts), records as
    {key: (size, etag)})."""
    conn = _connect(where, repeatable_read=True)
    try:
        counters = check_counters(conn)
        left = conn.execute("SELECT id, organization_id, object_key, owner_pid FROM reservations").fetchall()
        queued = conn.execute("SELECT object_key, reason, attempts FROM pending_deletes").fetchall()
        records = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT object_key, size, etag FROM files")}
        return counters, left, queued, records
    finally:
        conn.close()


# ------------------------------------------------------------ backup copies

def read_copy(path):
    """A database file opened read-only as a plain SQLite file: its
    integrity_check, journal mode, file record keys and reservation keys."""
    conn = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)
    try:
        return {
            "integrity_check": [r[0] for r in conn.execute("PRAGMA integrity_check")],
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
            "file_keys": {k for (k,) in conn.execute("SELECT object_key FROM files")},
            "reservation_keys": {k for (k,) in conn.execute("SELECT object_key FROM reservations")},
        }
    finally:
        conn.close()


def row_count(path, table):
    """Rows of `table` in a database file opened read-only."""
    assert table.isidentifier(), table
    conn = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


# ------------------------------------------------- faults below the API

@contextlib.contextmanager
def write_lock(where, timeout=30):
    """Holds the database's write lock (BEGIN IMMEDIATE) for the `with` block,
    from a connection of its own, as another process would; rolls back.
    PostgreSQL has no database-wide write lock: every table of Depot's schema
    is locked IN EXCLUSIVE MODE instead, which lets plain reads through and
    makes every write wait, as SQLite's lock does."""
    if postgres_target(where):
        conn = _connect(where, timeout)
        try:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                                 "ORDER BY tablename")]
            conn.execute("LOCK TABLE " + ", ".join(f'"{t}"' for t in tables) + " IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.rollback()
        finally:
            conn.close()
        return
    conn = _connect(where, timeout, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE organizations SET used_bytes = used_bytes WHERE id = ''")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


@contextlib.contextmanager
def maintenance_lock(where):
    """Holds the clean-up's advisory lock (PostgreSQLAdvisoryLock.maintenance)
    from a session of its own for the `with` block, as another node's
    running `depotctl gc` does."""
    conn = PostgresConnection(*postgres_target(where), autocommit=True)
    try:
        conn.execute(f"SELECT pg_advisory_lock({MAINTENANCE_LOCK})")
        try:
            yield
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({MAINTENANCE_LOCK})")
    finally:
        conn.close()


def hold_write_lock_command(where, seconds):
    """argv that holds the write lock from another process for `seconds`; it
    prints `locked` once it has the lock."""
    target = postgres_target(where)
    if target:
        password_file = getattr(where, "database_password_file", None) or where.path("secrets", "database.password")
        return [sys.executable, os.path.abspath(__file__), "hold-write-lock", target[0], str(seconds), password_file]
    return [sys.executable, os.path.abspath(__file__), "hold-write-lock", database_path(where), str(seconds)]


def corrupt_usage(where, org, used_bytes, file_count=None):
    """Overwrites an organization's used_bytes (and file_count) counters."""
    with _transaction(where) as conn:
        conn.execute("UPDATE organizations SET used_bytes = ? WHERE id = ?", (used_bytes, org))
        if file_count is not None:
            conn.execute("UPDATE organizations SET file_count = ? WHERE id = ?", (file_count, org))


def plant_reservation(where, org, user, key, size, owner_pid, owner_start, upload_id=None, ttl=3600):
    """A reservation held by `owner_pid` (started at `owner_start`, field 22
    of /proc/PID/stat), counted in the organization's reserved figures, as an
    upload in flight would leave it."""
    now = int(time.time())
    with _transaction(where) as conn:
        conn.execute("INSERT INTO reservations (id, organization_id, user_id, bytes, object_key, upload_id, owner_pid,"
                     " owner_start, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (str(uuid.uuid4()), org, user, size, key, upload_id, owner_pid, owner_start, now, now + ttl))
        conn.execute("UPDATE organizations SET reserved_bytes = reserved_bytes + ?, reserved_files = reserved_files + 1"
                     " WHERE id = ?", (size, org))


def delete_record(where, key):
    """Drops a file record, leaving its object and counters as they are."""
    with _transaction(where) as conn:
        conn.execute("DELETE FROM files WHERE object_key = ?", (key,))


def set_expiry(where, key, expires_at):
    """Moves a file record's expires_at (unix seconds), e.g. into the past."""
    with _transaction(where) as conn:
        conn.execute("UPDATE files SET expires_at = ? WHERE object_key = ?", (expires_at, key))


def set_content_type(where, key, content_type):
    """Changes a record's content type (the store keeps the one it was given)."""
    with _transaction(where) as conn:
        conn.execute("UPDATE files SET content_type = ? WHERE object_key = ?", (content_type, key))


def set_key_id(where, key, key_id):
    """Makes a record name another master key id."""
    with _transaction(where) as conn:
        conn.execute("UPDATE files SET key_id = ? WHERE object_key = ?", (key_id, key))


def set_schema_version(where, version):
    """Stamps the schema version (SQLite: PRAGMA user_version; PostgreSQL:
    depot_schema), e.g. a newer schema than this release knows."""
    if postgres_target(where):
        with _transaction(where) as conn:
            conn.execute("UPDATE depot_schema SET version = ?", (int(version),))
        return
    conn = _connect(where)
    try:
        conn.execute(f"PRAGMA user_version = {int(version)}")
    finally:
        conn.close()


def add_ballast(where, rows, row_bytes):
    """Switches the file to WAL and grows it by a table of random blobs."""
    _sqlite_only(where, "add_ballast")
    with _transaction(where) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE ballast (x BLOB)")
        conn.executemany("INSERT INTO ballast VALUES (?)", ((os.urandom(row_bytes),) for _ in range(rows)))


def steady_writes(where, stop, writes, pause=0.001):
    """Commits one small row every `pause` seconds until `stop` (an Event) is
    set, appending to `writes` after each commit."""
    _sqlite_only(where, "steady_writes")
    conn = _connect(where, 10, isolation_level=None)
    try:
        while not stop.is_set():
            conn.execute("INSERT INTO buckets (name, created_at) VALUES (?, 0)", (f"b{len(writes)}",))
            writes.append(1)
            time.sleep(pause)
    finally:
        conn.close()


# ------------------------------------------------------ synthetic scale data

def seed_files(where, org, user, count, batch=50_000, share_with=None, share_every=100):
    """Inserts `count` file records of one user (for the bench's scale cases),
    keeping the counters Depot maintains consistent. With `share_with` (a
    member's user id), every `share_every`-th file is shared with that member."""
    now = int(time.time())
    total = 0
    with _transaction(where) as conn:
        for start in range(0, count, batch):
            rows, shares = [], []
            for i in range(start, min(count, start + batch)):
                name = f"seed{i:07d}_20261130_000000_{i:08x}.bin"
                key = f"organizations/{org}/files/{user}/{name}"
                rows.append((str(uuid.uuid4()), org, user, key, name,
                             f"seed {i}.bin", 1000 + i % 1000, "application/octet-stream", "general",
                             "0" * 64, "etag", "k1", now - count + i, "depot"))
                if share_with and i % share_every == 0:
                    shares.append((str(uuid.uuid4()), org, key, user, share_with, user, now, now - count + i, 1000 + i % 1000,
                                   f"seed {i}.bin", "general"))
                total += 1000 + i % 1000
            conn.executemany("""INSERT INTO files (id, organization_id, user_id, object_key, object_name,
                original_filename, size, content_type, category, sha256, etag, key_id, uploaded_at, bucket)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)
            if shares:
                conn.executemany("""INSERT INTO shares (id, organization_id, object_key, owner_id, grantee_id, created_by, created_at,
                    uploaded_at, size, original_filename, category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", shares)
        if share_with:
            conn.execute("""INSERT INTO share_counts (organization_id, user_id, category, grants) VALUES (?, ?, 'general', ?)
                ON CONFLICT (organization_id, user_id, category) DO UPDATE SET grants = share_counts.grants + excluded.grants""",
                         (org, share_with, (count + share_every - 1) // share_every))
        conn.execute("""INSERT INTO usage_counters (organization_id, user_id, category, workflow_id, direction, bytes, files)
            VALUES (?, ?, 'general', '', '', ?, ?) ON CONFLICT (organization_id, user_id, category, workflow_id, direction)
            DO UPDATE SET bytes = usage_counters.bytes + excluded.bytes, files = usage_counters.files + excluded.files""",
                     (org, user, total, count))
        conn.execute("UPDATE organizations SET used_bytes = used_bytes + ?, file_count = file_count + ? WHERE id = ?",
                     (total, count, org))


def vacuum(where, tables=("files", "usage_counters", "shares")):
    """VACUUM (ANALYZE) of bulk-loaded tables, as autovacuum would have done
    to a table that grew over months (PostgreSQL)."""
    conn = PostgresConnection(*postgres_target(where), autocommit=True)
    try:
        conn.execute("VACUUM (ANALYZE) " + ", ".join(tables))
    finally:
        conn.close()


def sample_activity(where, stop, interval=0.05):
    """Until `stop` is set, every `interval` s: (connections, backends waiting
    for a lock, active backends) of the database's other sessions, from
    pg_stat_activity. Returns the samples."""
    url = postgres_target(where)[0]
    database = url.rsplit("/", 1)[1].split("?")[0]
    conn = PostgresConnection(*postgres_target(where), autocommit=True)
    samples = []
    try:
        while not stop.is_set():
            row = conn.execute("""
                SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock'),
                       count(*) FILTER (WHERE state = 'active')
                FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()""", (database,)).fetchone()
            samples.append(tuple(int(v) for v in row))
            time.sleep(interval)
    finally:
        conn.close()
    return samples


def main(argv):
    if len(argv) in (3, 4) and argv[0] == "hold-write-lock":
        where = Postgres(argv[1], argv[3]) if len(argv) == 4 else argv[1]
        with write_lock(where):
            print("locked", flush=True)
            time.sleep(float(argv[2]))
        # Exit the moment the lock is gone: whoever waits for this process
        # takes its exit for the end of the lock (interpreter teardown with
        # psycopg loaded takes a tenth of a second or more under load).
        os._exit(0)
    print("usage: database_oracle.py hold-write-lock SQLITE_FILE SECONDS\n"
          "       database_oracle.py hold-write-lock POSTGRESQL_URL SECONDS PASSWORD_FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
