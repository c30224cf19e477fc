"""The consistency check run after every reliability scenario.

`check(stack, since=None)` returns a list of problems (strings); empty means
consistent. What it asserts, per organization:

- organizations.used_bytes / file_count == SUM(size) / COUNT(*) of its file
  records == SUM(bytes) / SUM(files) of its usage_counters; and each
  usage_counters row equals the records it counts;
- organizations.reserved_bytes / reserved_files == the live reservations;
- no reservation was created before `since` (unix seconds: the scenario's
  start), so nothing from an earlier scenario is stuck;
- after one `depotctl gc` with a configuration whose orphan grace is 0:
  no reservation, no queued delete and no multipart upload is left, every file
  record has its object in the store (same size, same ETag), and every object
  under organizations/ has a record (no orphans);
- `PRAGMA integrity_check` is ok and no counter is negative;
- every record is under its own organization's folder, in the bucket, with a
  user row; no queued delete names a live record; no organization stores
  more than its plan allows (quota, file count: plans are never lowered
  during a scenario, so a racing upload that got past the limit shows here).

Run it only when the stack is quiet (no request in flight): an upload in
progress legitimately holds a reservation and an unclaimed object.
Usable from pytest (`from consistency import check`) and as a script:
`python scripts/reliability/consistency.py RUN_DIR` for a stack started by
scripts/depot_stack.py (reads RUN_DIR/depot.conf and store.json).
"""
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict

GC_TIMEOUT_SECONDS = 120


def _connect(stack):
    # Read-write open (WAL readers need the -shm file), but this module only reads.
    return sqlite3.connect(stack.path("data", "depot.sqlite3"), timeout=30)


def gc_config_path(stack):
    """A copy of the stack's configuration with `orphan_grace_seconds = 0`
    (a later section of the same name overrides earlier keys)."""
    with open(stack.config_path) as f:
        text = f.read()
    path = stack.path("depot-gc-now.conf")
    with open(path, "w") as f:
        f.write(text + "\n# consistency check: every unclaimed object is an orphan\n[uploads]\norphan_grace_seconds = 0\n")
    return path


def run_gc(stack):
    """One `depotctl gc --json` pass with grace 0. Returns (report dict or None, problems)."""
    depotctl = os.path.join(stack.bin_dir, "depotctl")
    command = [depotctl, "gc", "--config", gc_config_path(stack), "--json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=GC_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return None, [f"depotctl gc did not finish within {GC_TIMEOUT_SECONDS}s"]
    report = None
    try:
        report = json.loads(done.stdout) if done.stdout.strip() else None
    except ValueError:
        pass
    problems = []
    if done.returncode != 0:
        problems.append(f"depotctl gc exited {done.returncode}: {done.stderr.strip()[:500] or done.stdout.strip()[:500]}")
    if report and report.get("failed_deletes"):
        problems.append(f"depotctl gc could not delete {len(report['failed_deletes'])} objects: {report['failed_deletes'][:5]}")
    return report, problems


def _store_objects(stack):
    """{key: (size, etag)} of every object under organizations/, and the open multipart uploads."""
    s3 = stack.s3()
    objects = {}
    kwargs = {"Bucket": stack.bucket, "Prefix": "organizations/", "MaxKeys": 1000}
    for _ in range(100_000):  # bounded: 100M objects
        page = s3.list_objects_v2(**kwargs)
        for o in page.get("Contents", []):
            objects[o["Key"]] = (o["Size"], o.get("ETag", "").strip('"'))
        if not page.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    uploads = []
    kwargs = {"Bucket": stack.bucket, "Prefix": "organizations/"}
    for _ in range(10_000):
        page = s3.list_multipart_uploads(**kwargs)
        uploads += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page.get("IsTruncated"):
            break
        kwargs["KeyMarker"] = page.get("NextKeyMarker")
        kwargs["UploadIdMarker"] = page.get("NextUploadIdMarker")
    return objects, uploads


def _org_of(key):
    parts = key.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "organizations" else "?"


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
    return problems


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


def check(stack, since=None, run_gc_pass=True):
    """All checks; returns a list of problems (empty = consistent). `since`:
    unix time of the scenario's start; older reservations are problems."""
    problems = []
    conn = _connect(stack)
    try:
        problems += check_database(conn)
        problems += check_counters(conn)
        problems += check_records(conn, getattr(stack, "bucket", None))
        if since is not None:
            for rid, org, key, created in conn.execute(
                    "SELECT id, organization_id, object_key, created_at FROM reservations WHERE created_at < ?", (int(since),)):
                problems.append(f"reservation {rid} of org {org} ({key}) is from before the scenario "
                                f"({time.strftime('%H:%M:%S', time.localtime(created))})")
    finally:
        conn.close()
    if not run_gc_pass:
        return problems

    _, gc_problems = run_gc(stack)
    problems += gc_problems

    conn = _connect(stack)
    try:
        after = check_counters(conn)
        problems += [p + " (after gc)" for p in after if p not in problems]
        left = conn.execute("SELECT id, organization_id, object_key, owner_pid FROM reservations").fetchall()
        for rid, org, key, pid in left[:20]:
            problems.append(f"reservation {rid} of org {org} ({key}, worker {pid}) survived gc")
        if len(left) > 20:
            problems.append(f"... {len(left) - 20} more reservations survived gc")
        queued = conn.execute("SELECT object_key, reason, attempts FROM pending_deletes").fetchall()
        for key, reason, attempts in queued[:20]:
            problems.append(f"queued delete of {key} ({reason}, {attempts} attempts) survived gc")
        records = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT object_key, size, etag FROM files")}
    finally:
        conn.close()

    try:
        objects, uploads = _store_objects(stack)
    except Exception as e:  # noqa: BLE001 - reported as a problem, not raised
        return problems + [f"cannot list the store: {e}"]
    missing = defaultdict(list)
    for key, (size, etag) in records.items():
        stored = objects.get(key)
        if stored is None:
            missing[_org_of(key)].append(key)
        elif stored[0] != size:
            problems.append(f"{key}: record size {size} != stored size {stored[0]}")
        elif etag and stored[1] and stored[1] != etag:
            problems.append(f"{key}: record etag {etag} != stored etag {stored[1]}")
    for org, keys in sorted(missing.items()):
        problems.append(f"org {org}: {len(keys)} file records without an object, e.g. {keys[:3]}")
    orphans = defaultdict(list)
    for key in objects:
        if key not in records:
            orphans[_org_of(key)].append(key)
    for org, keys in sorted(orphans.items()):
        problems.append(f"org {org}: {len(keys)} store objects without a record after gc, e.g. {keys[:3]}")
    if uploads:
        problems.append(f"{len(uploads)} multipart uploads left open after gc, e.g. {uploads[:3]}")
    return problems


class _RunDirStack:
    """Enough of depot_stack.Stack for check(): a running stack's run dir."""

    def __init__(self, run_dir, bin_dir):
        self.run_dir = os.path.abspath(run_dir)
        self.bin_dir = bin_dir
        with open(self.path("store.json")) as f:
            store = json.load(f)
        self.store_endpoint, self.bucket = store["endpoint"], store["bucket"]
        self._keys = store["access_key"], store["secret_key"]

    def path(self, *parts):
        return os.path.join(self.run_dir, *parts)

    @property
    def config_path(self):
        return self.path("depot.conf")

    def s3(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.store_endpoint, aws_access_key_id=self._keys[0],
                            aws_secret_access_key=self._keys[1], region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def main(argv):
    import argparse
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(description="Consistency check of a running dev stack (runs depotctl gc with grace 0).")
    p.add_argument("run_dir")
    p.add_argument("--build", default="release", choices=("release", "debug"))
    p.add_argument("--since", type=float, default=None, help="unix time; older reservations are problems")
    a = p.parse_args(argv)
    problems = check(_RunDirStack(a.run_dir, os.path.join(repo, ".build", a.build)), since=a.since)
    for line in problems:
        print(line)
    print("consistent" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
