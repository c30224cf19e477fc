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
The database reads are in scripts/database_oracle.py, the one module that
opens the database; the store is listed with boto3, gc run with depotctl.
"""
import json
import os
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import database_oracle  # noqa: E402
import depotctl_cli  # noqa: E402

GC_TIMEOUT_SECONDS = 120


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
    try:
        done = depotctl_cli.run(stack, "gc", "--json", config=gc_config_path(stack), timeout=GC_TIMEOUT_SECONDS)
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


def check(stack, since=None, run_gc_pass=True):
    """All checks; returns a list of problems (empty = consistent). `since`:
    unix time of the scenario's start; older reservations are problems."""
    problems = database_oracle.bookkeeping_problems(stack, getattr(stack, "bucket", None), since)
    if not run_gc_pass:
        return problems

    _, gc_problems = run_gc(stack)
    problems += gc_problems

    after, left, queued, records = database_oracle.after_gc(stack)
    problems += [p + " (after gc)" for p in after if p not in problems]
    for rid, org, key, pid in left[:20]:
        problems.append(f"reservation {rid} of org {org} ({key}, worker {pid}) survived gc")
    if len(left) > 20:
        problems.append(f"... {len(left) - 20} more reservations survived gc")
    for key, reason, attempts in queued[:20]:
        problems.append(f"queued delete of {key} ({reason}, {attempts} attempts) survived gc")

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
