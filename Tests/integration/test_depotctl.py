"""depotctl against a real database and store, plus the operational routes
(health, metrics) and the workers' access log."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
import uuid

import jwt
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import database_oracle
import depotctl_cli
from conftest import AUDIENCE, ISSUER, Client, assert_error, store_keys
from depotctl_cli import run as ctl, run_json as ctl_json

GRACE_ZERO = "[uploads]\norphan_grace_seconds = 0\n"


# ----------------------------------------------------------------- helpers

def bin_dir():
    from conftest import BUILD, REPO
    return os.path.join(REPO, ".build", BUILD)


def start_time(pid):
    """Field 22 of /proc/PID/stat, as the workers record it."""
    text = open(f"/proc/{pid}/stat").read()
    return text[text.rindex(")") + 1:].split()[19]


def upload_ok(client, name, data, **kw):
    r = client.upload(name, data, **kw)
    assert r.status_code == 201, r.text
    return r.json()


def download(client, key):
    return client.get("/api/v1/objects/download", params={"objectKey": key})


def multipart_keys(stack, prefix="organizations/"):
    page = stack.s3().list_multipart_uploads(Bucket=stack.bucket, Prefix=prefix)
    return {(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])}


def write_config(directory, text):
    path = os.path.join(directory, "depot.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_until(check, timeout, what, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value is not None and value is not False:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def reload_workers(stack):
    """SIGHUP to the supervisor; returns once every worker is a new one."""
    before = set(stack.worker_pids())
    stack.processes["depot"].send_signal(signal.SIGHUP)
    wait_until(lambda: len(stack.worker_pids()) == len(before) and not (set(stack.worker_pids()) & before),
               20, "workers replaced after SIGHUP")


# ------------------------------------------------------ help and exit codes

SUBCOMMANDS = [[], ["init"], ["migrate"], ["plan"], ["plan", "list"], ["plan", "create"], ["plan", "update"],
               ["org"], ["org", "list"], ["org", "show"], ["org", "set-plan"], ["user"], ["user", "show"],
               ["token"], ["token", "issue"], ["quota"], ["quota", "recalc"], ["gc"], ["fsck"], ["backup"],
               ["keys"], ["keys", "rotate"], ["keys", "status"], ["stats"], ["reservations"], ["reservations", "list"],
               ["files"], ["files", "list"]]


def test_help_everywhere_and_exit_codes_documented():
    # `--help` works on every command and subcommand; the top help documents exit codes 0/1/2.
    for path in SUBCOMMANDS:
        r = ctl(bin_dir(), *path, "--help")
        assert r.returncode == 0, (path, r.stderr)
        assert "USAGE: depotctl" in r.stdout, path
    top = ctl(bin_dir(), "--help").stdout
    assert "EXIT STATUS" in top
    for line in ("  0  success", "  1  the command failed", "  2  usage error"):
        assert line in top
    assert "RESTORE" in ctl(bin_dir(), "backup", "--help").stdout
    assert "SIGHUP" in ctl(bin_dir(), "keys", "rotate", "--help").stdout


def test_usage_and_configuration_errors_exit_2(stack, tmp_path):
    # Unknown commands/options, bad values and unreadable or invalid configuration files: exit 2.
    assert ctl(stack, "frobnicate").returncode == 2
    assert ctl(stack, "stats", "--no-such-option").returncode == 2
    assert ctl(stack).returncode == 2
    r = ctl(stack, "plan", "create", "x", "--quota", "5XB", "--max-file-size", "1MiB", "--max-files", "1")
    assert r.returncode == 2 and "--quota" in r.stderr
    assert ctl(stack, "org", "show", "not-a-uuid").returncode == 2
    assert ctl(stack, "token", "issue", "--user", str(uuid.uuid4()), "--org", str(uuid.uuid4()), "--role", "root").returncode == 2
    missing = ctl(stack, "stats", config=str(tmp_path / "nope.conf"))
    assert missing.returncode == 2 and "cannot read configuration file" in missing.stderr
    # $DEPOT_CONFIG is the default when --config is absent.
    assert ctl(bin_dir(), "stats", env={"DEPOT_CONFIG": str(tmp_path / "nope.conf")}).returncode == 2
    assert ctl(bin_dir(), "stats", "--json", env={"DEPOT_CONFIG": stack.config_path}).returncode == 0
    bad = write_config(str(tmp_path), "[database\npath = x\n")
    assert ctl(stack, "stats", config=bad).returncode == 2
    # gc needs the full configuration: a missing store secret is a configuration error.
    half = write_config(str(tmp_path), stack.database_section())
    r = ctl(stack, "gc", "--dry-run", config=half)
    assert r.returncode == 2, r.stderr


# ------------------------------------------------------------ init, migrate

@pytest.mark.sqlite_only("init makes a SQLite file at a path relative to the configuration")
def test_init_creates_database_and_secrets_and_never_overwrites(tmp_path):
    # init reads paths only (no store secret exists), creates db + 0600 keys; re-run keeps them; --force replaces.
    conf = write_config(str(tmp_path), """
[database]
path = var/db/depot.sqlite3
[store]
endpoint = http://127.0.0.1:1
access_key_file = secrets/does-not-exist
secret_key_file = secrets/does-not-exist-either
[auth]
algorithms = HS256
hs256_secret_file = secrets/jwt-hs256.key
[encryption]
master_key_file = secrets/master.keys
[plan.team]
quota = 10GiB
max_file_size = 1GiB
max_files = 50
categories = general
""")
    r = ctl(bin_dir(), "init", config=conf)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "var" / "db" / "depot.sqlite3").exists()
    master, secret = tmp_path / "secrets" / "master.keys", tmp_path / "secrets" / "jwt-hs256.key"
    for p in (master, secret):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    assert re.fullmatch(r"k1 [0-9a-f]{64}\n", master.read_text())
    assert re.fullmatch(r"[0-9a-f]{64}\n", secret.read_text())
    assert ctl_json(bin_dir(), "stats", config=conf)["schema_version"] >= 1
    plans = {p["name"]: p["quota_bytes"] for p in ctl_json(bin_dir(), "plan", "list", config=conf)["plans"]}
    assert plans == {"individual": 5 << 30, "organization": 100 << 30, "team": 10 << 30}

    before = (master.read_text(), secret.read_text())
    again = ctl(bin_dir(), "init", config=conf)
    assert again.returncode == 0 and "kept" in again.stdout
    assert (master.read_text(), secret.read_text()) == before

    forced = ctl(bin_dir(), "init", "--force", config=conf)
    assert forced.returncode == 0, forced.stderr
    assert (master.read_text(), secret.read_text()) != before
    assert stat.S_IMODE(os.stat(master).st_mode) == 0o600
    aside = sorted(p.name for p in (tmp_path / "secrets").iterdir() if ".replaced-" in p.name)
    assert len(aside) == 2
    assert {(tmp_path / "secrets" / a).read_text() for a in aside} == set(before)
    # The database was kept, not recreated.
    assert len(ctl_json(bin_dir(), "plan", "list", config=conf)["plans"]) == 3


@pytest.mark.sqlite_only("its configuration names a SQLite file, whose directory must not be made without the credentials")
def test_init_and_rotate_with_systemd_credential_paths(tmp_path):
    # credential:NAME secrets: init and keys rotate write $CREDENTIALS_DIRECTORY/NAME; without it, exit 2 and nothing created.
    conf = write_config(str(tmp_path), f"[database]\npath = {tmp_path / 'db' / 'depot.sqlite3'}\n"
                                       "[auth]\nhs256_secret_file = credential:jwt-hs256.key\n"
                                       "[encryption]\nmaster_key_file = credential:master.keys\n")
    r = ctl(bin_dir(), "init", config=conf)
    assert r.returncode == 2 and "CREDENTIALS_DIRECTORY" in r.stderr
    assert not (tmp_path / "db").exists()
    creds = tmp_path / "secrets"
    creds.mkdir(mode=0o700)
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    assert ctl(bin_dir(), "init", config=conf, env=env).returncode == 0
    assert sorted(os.listdir(creds)) == ["jwt-hs256.key", "master.keys"]
    rotated = ctl(bin_dir(), "keys", "rotate", config=conf, env=env)
    assert rotated.returncode == 0 and "systemctl restart depot" in rotated.stdout
    assert [l.split()[0] for l in (creds / "master.keys").read_text().splitlines()] == ["k1", "k2"]


@pytest.mark.sqlite_only("gives the SQLite file and its directory to the service user")
@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_init_owner_gives_database_and_keys_to_the_service_user(tmp_path):
    # init --owner (as the package's postinst runs it): the database directory, database and key files belong to that user.
    import pwd
    nobody = pwd.getpwnam("nobody")
    conf = write_config(str(tmp_path), "[database]\npath = db/depot.sqlite3\n[auth]\nhs256_secret_file = keys/jwt.key\n"
                                       "[encryption]\nmaster_key_file = keys/master.keys\n")
    assert ctl(bin_dir(), "init", "--owner", "nobody", config=conf).returncode == 0
    for p in ("db", "db/depot.sqlite3", "keys", "keys/jwt.key", "keys/master.keys"):
        assert os.stat(tmp_path / p).st_uid == nobody.pw_uid, p
    assert stat.S_IMODE(os.stat(tmp_path / "db").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    assert ctl(bin_dir(), "init", "--owner", "no-such-user-xyz", config=conf).returncode == 2


@pytest.mark.sqlite_only("migrates an empty SQLite file and stamps its PRAGMA user_version")
def test_migrate_is_idempotent_and_refuses_a_newer_database(tmp_path):
    # migrate on an empty file brings it to the current schema, twice is a no-op; a newer schema is refused (exit 1).
    dbfile = tmp_path / "depot.sqlite3"
    dbfile.touch()  # an empty file is an empty SQLite database
    conf = write_config(str(tmp_path), f"[database]\npath = {dbfile}\n")
    first = json.loads(ctl(bin_dir(), "migrate", "--json", config=conf).stdout)
    assert first["from"] == 0 and first["to"] >= 1 and first["changed"] is True
    second = ctl(bin_dir(), "migrate", "--json", config=conf)
    assert second.returncode == 0 and json.loads(second.stdout) == {"from": first["to"], "to": first["to"], "changed": False}
    database_oracle.set_schema_version(dbfile, 999)
    refused = ctl(bin_dir(), "migrate", config=conf)
    assert refused.returncode == 1
    assert "newer" in refused.stderr and "999" in refused.stderr
    assert ctl_json(bin_dir(), "stats", config=conf)["schema_version"] == 999
    # Other commands refuse it too rather than misread it.
    assert ctl(bin_dir(), "plan", "list", config=conf).returncode == 1
    # A missing database is a failure that points at init.
    gone = write_config(str(tmp_path), f"[database]\npath = {tmp_path / 'absent.sqlite3'}\n")
    r = ctl(bin_dir(), "migrate", config=gone)
    assert r.returncode == 1 and "depotctl init" in r.stderr
    assert not (tmp_path / "absent.sqlite3").exists()


# ------------------------------------------------------ plans, orgs, users

def test_plan_create_update_list(stack):
    # Plans are created, listed (exact bytes in JSON) and updated; duplicates and unknown plans fail with 1.
    name = "ctl-" + uuid.uuid4().hex[:8]
    r = ctl(stack, "plan", "create", name, "--quota", "5GiB", "--max-file-size", "100MiB", "--max-files", "20",
            "--categories", "general,data_source")
    assert r.returncode == 0, r.stderr
    listed = {p["name"]: p for p in ctl_json(stack, "plan", "list")["plans"]}
    assert listed[name] == {"name": name, "quota_bytes": 5 << 30, "max_file_size_bytes": 100 << 20, "max_files": 20,
                            "allowed_categories": ["general", "data_source"], "member_quota_bytes": None,
                            "organizations": 0}
    assert "organization" in listed and "individual" in listed
    assert ctl(stack, "plan", "create", name, "--quota", "1GiB", "--max-file-size", "1MiB", "--max-files", "1").returncode == 1
    updated = ctl_json(stack, "plan", "update", name, "--quota", "2GiB", "--max-files", "30")
    assert (updated["quota_bytes"], updated["max_file_size_bytes"], updated["max_files"]) == (2 << 30, 100 << 20, 30)
    assert ctl(stack, "plan", "update", "no-such-plan-" + name, "--quota", "1GiB").returncode == 1
    assert ctl(stack, "plan", "update", name).returncode == 2
    assert ctl(stack, "plan", "update", name, "--categories", "videos").returncode == 2
    assert name in ctl(stack, "plan", "list").stdout


def test_org_list_show_set_plan_and_user_show(stack):
    # An organization with two files: list/show report its usage, set-plan moves it (the API sees it), user show counts files.
    c = Client(stack)
    upload_ok(c, "a.txt", b"a" * 1000)
    upload_ok(c, "b.csv", b"b" * 2345, category="data_source")
    orgs = {o["id"]: o for o in ctl_json(stack, "org", "list")["organizations"]}
    assert orgs[c.org]["used_bytes"] == 3345 and orgs[c.org]["file_count"] == 2 and orgs[c.org]["plan"] == "organization"
    shown = ctl_json(stack, "org", "show", c.org)
    assert (shown["used_bytes"], shown["file_count"], shown["users"], shown["user_ids"]) == (3345, 2, 1, [c.user])
    assert shown["by_category"]["data_source"] == {"bytes": 2345, "files": 1}
    assert c.org in ctl(stack, "org", "show", c.org).stdout

    plan = "ctl-" + uuid.uuid4().hex[:8]
    assert ctl(stack, "plan", "create", plan, "--quota", "1MiB", "--max-file-size", "4KiB", "--max-files", "3").returncode == 0
    r = ctl(stack, "org", "set-plan", c.org, plan)
    assert r.returncode == 0 and plan in r.stdout, r.stderr
    quota = c.get("/api/v1/storage/quota").json()
    assert (quota["plan"], quota["quota_bytes"], quota["max_file_size_bytes"]) == (plan, 1 << 20, 4096)
    assert_error(c.upload("big.bin", b"x" * 5000), 413, "file_too_large")
    assert ctl(stack, "org", "set-plan", c.org, "no-such-plan").returncode == 1
    assert ctl(stack, "org", "set-plan", str(uuid.uuid4()), plan).returncode == 1
    assert ctl(stack, "org", "show", str(uuid.uuid4())).returncode == 1
    assert [o["id"] for o in ctl_json(stack, "org", "list", "--plan", plan)["organizations"]] == [c.org]

    user = ctl_json(stack, "user", "show", c.org, c.user)
    assert (user["files"], user["bytes"]) == (2, 3345)
    assert user["by_category"] == {"data_source": {"files": 1, "bytes": 2345}, "general": {"files": 1, "bytes": 1000}}
    text = ctl(stack, "user", "show", c.org, c.user)
    assert text.returncode == 0 and "files 2, bytes 3345" in text.stdout
    assert ctl(stack, "user", "show", c.org, str(uuid.uuid4())).returncode == 1
    assert ctl(stack, "user", "show", c.org, "bob").returncode == 2


# -------------------------------------------------------- tokens and quota

def test_token_issue_is_accepted_by_the_api(stack):
    # An issued admin token verifies with the configured secret, iss and aud, and works against the API.
    user, org = str(uuid.uuid4()), str(uuid.uuid4())
    r = ctl(stack, "token", "issue", "--user", user, "--org", org, "--role", "admin", "--ttl", "600", "--acct", "individual")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    claims = jwt.decode(token, stack.hs256_secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert (claims["sub"], claims["org"], claims["role"], claims["acct"]) == (user, org, "admin", "individual")
    assert claims["exp"] - claims["iat"] == 600
    c = Client(stack, org=org, user=user, token=token)
    assert c.get("/api/v1/storage/quota").json()["plan"] == "individual"
    assert c.post("/api/v1/storage/quota/recalculate").status_code == 200
    member = ctl_json(stack, "token", "issue", "--user", str(uuid.uuid4()), "--org", org)
    assert member["expires_at"].endswith("Z")
    m = Client(stack, org=org, token=member["token"])
    assert_error(m.post("/api/v1/storage/quota/recalculate"), 403)


def test_quota_recalc_rebuilds_counters(stack):
    # Corrupted counters are rebuilt from the records, for one organization or all; before/after printed.
    c = Client(stack)
    upload_ok(c, "r.bin", b"r" * 4321)
    database_oracle.corrupt_usage(stack, c.org, used_bytes=999999, file_count=7)
    out = ctl_json(stack, "quota", "recalc", "--org", c.org)
    [row] = out["organizations"]
    assert row["organization_id"] == c.org and row["changed"] is True
    assert (row["before"]["used_bytes"], row["before"]["file_count"]) == (999999, 7)
    assert (row["after"]["used_bytes"], row["after"]["file_count"]) == (4321, 1)
    assert c.get("/api/v1/storage/usage").json()["used_bytes"] == 4321
    again = ctl_json(stack, "quota", "recalc", "--org", c.org)
    assert again["organizations"][0]["changed"] is False
    everything = ctl(stack, "quota", "recalc")
    assert everything.returncode == 0 and "recalculated" in everything.stdout
    assert f"{c.org}: used 4321 → 4321 bytes" in everything.stdout
    assert ctl(stack, "quota", "recalc", "--org", str(uuid.uuid4())).returncode == 1


def test_stats_reports_totals(stack):
    # stats counts files, bytes, organizations and reservations as the database holds them.
    c = Client(stack)
    upload_ok(c, "s.bin", b"s" * 777)
    s = ctl_json(stack, "stats")
    records = depotctl_cli.file_records(stack)
    assert (s["files"], s["bytes"]) == (len(records), sum(f["size"] for f in records))
    assert s["organizations"] == len(ctl_json(stack, "org", "list")["organizations"])
    assert s["reservations"] >= 0 and s["schema_version"] >= 1
    assert ("oldest_reservation_age_seconds" in s) and ("pending_deletes" in s)
    assert "organizations" in ctl(stack, "stats").stdout


def test_files_and_reservations_list(stack):
    # files list shows the records' keys and sizes, for one organization or all; reservations list is empty when idle.
    c, other = Client(stack), Client(stack)
    mine = sorted((upload_ok(c, f"f{i}.bin", b"f" * (100 + i))["object_key"], 100 + i) for i in range(3))
    theirs = upload_ok(other, "o.bin", b"o" * 50)["object_key"]
    listed = ctl_json(stack, "files", "list", "--org", c.org)["files"]
    assert [(f["object_key"], f["size"]) for f in listed] == mine
    everything = {f["object_key"]: f["size"] for f in ctl_json(stack, "files", "list")["files"]}
    assert everything[theirs] == 50 and all(everything[k] == n for k, n in mine)
    text = ctl(stack, "files", "list", "--org", c.org)
    assert text.returncode == 0 and all(k in text.stdout for k, _ in mine) and theirs not in text.stdout
    assert ctl_json(stack, "reservations", "list", "--org", c.org) == {"reservations": []}
    assert ctl_json(stack, "files", "list", "--org", str(uuid.uuid4())) == {"files": []}
    assert ctl(stack, "files", "list", "--org", "not-a-uuid").returncode == 2
    assert ctl(stack, "reservations", "list", "--org", "not-a-uuid").returncode == 2


# ---------------------------------------------------------------------- gc

def test_gc_removes_exactly_the_orphans(fresh_stack):
    # Stray objects and a stray multipart upload go; real files and an upload in flight (live worker's reservation) stay.
    s = fresh_stack(extra_config=GRACE_ZERO)
    c = Client(s)
    real = {}
    for name, data in (("keep1.txt", os.urandom(3000)), ("keep2.bin", os.urandom(70_000))):
        real[upload_ok(c, name, data)["object_key"]] = data
    s3 = s.s3()
    base = f"organizations/{c.org}/files/{c.user}/"
    stray = {base + "stray_20260101_000000_deadbeef.bin",
             f"organizations/{uuid.uuid4()}/files/{uuid.uuid4()}/lost_20260101_000000_cafebabe.txt"}
    for key in stray:
        s3.put_object(Bucket=s.bucket, Key=key, Body=b"stray" * 100)
    stray_mp_key = base + "mp_20260101_000000_0badf00d.bin"
    stray_mp = s3.create_multipart_upload(Bucket=s.bucket, Key=stray_mp_key)["UploadId"]
    s3.upload_part(Bucket=s.bucket, Key=stray_mp_key, UploadId=stray_mp, PartNumber=1, Body=b"p" * 1024)

    # Two uploads in flight, held by a live worker: one mid multipart, one whose single PUT just landed.
    worker = s.worker_pids()[0]
    inflight_mp_key = base + "inflight_20260101_000000_11111111.bin"
    inflight_mp = s3.create_multipart_upload(Bucket=s.bucket, Key=inflight_mp_key)["UploadId"]
    inflight_put_key = base + "inflight_20260101_000000_22222222.bin"
    s3.put_object(Bucket=s.bucket, Key=inflight_put_key, Body=b"i" * 500)
    for key, upload_id, size in ((inflight_mp_key, inflight_mp, 40 << 20), (inflight_put_key, None, 500)):
        database_oracle.plant_reservation(s, c.org, c.user, key, size, worker, start_time(worker), upload_id=upload_id)
    time.sleep(1.5)  # store timestamps have one-second resolution; grace is 0

    dry = ctl_json(s, "gc", "--dry-run")
    assert dry["dry_run"] is True
    assert set(dry["orphan_objects"]) == stray
    assert {(u["key"], u["upload_id"]) for u in dry["aborted_uploads"]} == {(stray_mp_key, stray_mp)}
    assert dry["reclaimed_reservations"] == [] and dry["failed_deletes"] == []
    assert stray <= store_keys(s) and (stray_mp_key, stray_mp) in multipart_keys(s)

    report = ctl_json(s, "gc")
    assert set(report["orphan_objects"]) == stray
    assert {(u["key"], u["upload_id"]) for u in report["aborted_uploads"]} == {(stray_mp_key, stray_mp)}
    assert report["reclaimed_reservations"] == [] and report["failed_deletes"] == []

    left = store_keys(s)
    assert not (left & stray)
    assert left == set(real) | {inflight_put_key}
    assert multipart_keys(s) == {(inflight_mp_key, inflight_mp)}
    planted = ctl_json(s, "reservations", "list")["reservations"]
    assert {(r["object_key"], r["upload_id"], r["bytes"], r["owner_pid"], r["organization_id"], r["user_id"]) for r in planted} == \
        {(inflight_mp_key, inflight_mp, 40 << 20, worker, c.org, c.user), (inflight_put_key, None, 500, worker, c.org, c.user)}
    assert all(r["created_at"].endswith("Z") and r["expires_at"].endswith("Z") for r in planted)
    assert ctl_json(s, "reservations", "list", "--org", str(uuid.uuid4()))["reservations"] == []
    text = ctl(s, "reservations", "list")
    assert text.returncode == 0 and inflight_mp_key in text.stdout and str(worker) in text.stdout
    for key, data in real.items():
        r = download(c, key)
        assert r.status_code == 200 and r.content == data
    stats = ctl_json(s, "stats")
    assert stats["reservations"] == 2 and stats["reserved_bytes"] == (40 << 20) + 500
    assert stats["oldest_reservation_age_seconds"] >= 1

    # A second pass finds nothing; the text report says so.
    second = ctl(s, "gc")
    assert second.returncode == 0
    assert "orphan objects deleted: 0" in second.stdout and "multipart uploads aborted: 0" in second.stdout


def test_gc_after_a_killed_upload_leaves_nothing(fresh_stack):
    # SIGKILL the worker while it streams a 50 MiB upload to the store: gc leaves no record, object, upload or reservation.
    s = fresh_stack(extra_config=GRACE_ZERO)
    c = Client(s)
    c.get("/api/v1/storage/quota").raise_for_status()
    data = os.urandom(50 << 20)
    for attempt in range(4):
        result = {}
        sender = threading.Thread(target=lambda: result.update(r=c.upload(f"big{attempt}.bin", data)))
        sender.start()
        victim = None
        deadline = time.time() + 120
        while time.time() < deadline and sender.is_alive():
            row = next((r for r in depotctl_cli.reservations(s) if r["upload_id"] is not None), None)
            if row:
                victim = (row["owner_pid"], row["object_key"])
                os.kill(row["owner_pid"], signal.SIGKILL)
                break
            time.sleep(0.002)
        sender.join(120)
        if victim:
            break
        # The upload finished before we saw it mid-transfer: delete it and try again.
        assert result["r"].status_code == 201, result["r"].text
        assert c.delete("/api/v1/storage/objects/" + result["r"].json()["object_name"]).status_code == 204
    assert victim, "never caught the worker mid-upload"
    pid, key = victim
    assert result["r"].status_code >= 500
    # The reservation outlives its dead worker until gc; the multipart upload is still open.
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
               10, "worker gone")
    assert [r["object_key"] for r in depotctl_cli.reservations(s)] == [key]

    report = ctl_json(s, "gc")
    assert [r["object_key"] for r in report["reclaimed_reservations"]] == [key]
    assert report["reclaimed_reservations"][0]["owner_pid"] == pid
    assert key in report["deleted_objects"]
    assert key in {u["key"] for u in report["aborted_uploads"]}
    assert report["failed_deletes"] == []

    assert key not in depotctl_cli.record_keys(s)
    assert depotctl_cli.reservations(s) == []
    assert depotctl_cli.stats(s)["pending_deletes"] == 0
    assert key not in store_keys(s)
    assert not {k for k, _ in multipart_keys(s)}
    org = depotctl_cli.organization(s, c.org)
    assert (org["reserved_bytes"], org["reserved_files"]) == (0, 0)
    usage = c.get("/api/v1/storage/usage").json()
    assert (usage["reserved_bytes"], usage["file_count"]) == (0, 0)


# -------------------------------------------------------------------- fsck

def test_fsck_detects_missing_stray_and_resized_objects(fresh_stack):
    # A deleted store object, a stray object and a resized object are reported (exit 1); --repair removes only the stray.
    s = fresh_stack(extra_config=GRACE_ZERO)
    c = Client(s)
    a = upload_ok(c, "a.txt", b"a" * 1111)
    b = upload_ok(c, "b.txt", b"b" * 2222)
    resized = upload_ok(c, "c.txt", b"c" * 3333)
    clean = ctl_json(s, "fsck")
    assert clean["clean"] is True and clean["records_checked"] == 3 and clean["objects_checked"] == 3

    s3 = s.s3()
    s3.delete_object(Bucket=s.bucket, Key=a["object_key"])
    stray = f"organizations/{c.org}/files/{c.user}/stray_20260101_000000_abcdef01.bin"
    s3.put_object(Bucket=s.bucket, Key=stray, Body=b"x" * 10)
    s3.put_object(Bucket=s.bucket, Key=resized["object_key"], Body=b"short")
    time.sleep(1.5)

    found = ctl_json(s, "fsck", code=1)
    assert found["clean"] is False
    assert found["missing_objects"] == [a["object_key"]]
    assert [o["key"] for o in found["orphan_objects"]] == [stray]
    assert found["orphan_objects"][0]["size"] == 10
    assert found["size_mismatches"] == [{"key": resized["object_key"], "recorded": 3333, "stored": 5}]
    text = ctl(s, "fsck")
    assert text.returncode == 1 and a["object_key"] in text.stdout and stray in text.stdout
    assert stray in store_keys(s)  # without --repair nothing changes

    repaired = ctl_json(s, "fsck", "--repair", code=1)  # the missing object and the mismatch remain
    assert repaired["deleted_orphans"] == [stray]
    assert repaired["problems_remaining"] == 2
    assert stray not in store_keys(s)
    assert len(depotctl_cli.file_records(s)) == 3  # records are never dropped
    assert b["object_key"] in store_keys(s)

    for f in (a, resized):
        assert c.delete("/api/v1/storage/objects/" + f["object_name"]).status_code == 204
    assert ctl(s, "fsck").returncode == 0


# ------------------------------------------------------------------ backup

@pytest.mark.sqlite_only("depotctl backup copies the SQLite file; restoring is replacing it")
def test_backup_during_a_write_loop_restores_every_committed_file(fresh_stack, tmp_path):
    # A backup taken while a thread uploads passes integrity_check, holds every file acknowledged before it started, and restores.
    s = fresh_stack()
    c = Client(s)
    c.get("/api/v1/storage/quota").raise_for_status()
    committed, stop, errors = [], threading.Event(), []

    def writer():
        w = Client(s, org=c.org, user=c.user, token=c.token)
        n = 0
        while not stop.is_set():
            n += 1
            r = w.upload(f"loop-{n}.txt", os.urandom(2048))
            if r.status_code == 201:
                committed.append(r.json())
            else:
                errors.append(r.text)

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait_until(lambda: len(committed) >= 10, 60, "uploads before the backup")
        before = list(committed)  # every upload answered 201 before the backup starts
        dest = tmp_path / "depot-backup.sqlite3"
        out = ctl_json(s, "backup", str(dest))
        wait_until(lambda: len(committed) >= len(before) + 5, 60, "uploads after the backup")
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors[:3]
    assert out["path"] == str(dest) and out["integrity_check"] == "ok"
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    copy = database_oracle.read_copy(dest)
    assert copy["integrity_check"] == ["ok"] and copy["journal_mode"] == "delete"
    in_backup = copy["file_keys"]
    assert {f["object_key"] for f in before} <= in_backup
    assert out["files"] == len(in_backup)
    first = tmp_path / "first-backup.sqlite3"
    shutil.copyfile(dest, first)

    # Refuses to overwrite; --force replaces; a directory gets a dated file.
    refused = ctl(s, "backup", str(dest))
    assert refused.returncode == 1 and "exists" in refused.stderr
    assert os.path.getsize(dest) == os.path.getsize(first)
    forced = ctl_json(s, "backup", str(dest), "--force")
    assert forced["files"] == len(committed)  # the writer has stopped: every file is in
    dated = ctl_json(s, "backup", str(tmp_path))
    assert re.fullmatch(r"depot-\d{8}T\d{6}Z\.sqlite3", os.path.basename(dated["path"]))

    # Restore the first backup as `depotctl backup --help` says: stop, replace, migrate, start.
    s.stop_depot()
    live = s.path("data", "depot.sqlite3")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(live + suffix):
            os.unlink(live + suffix)
    shutil.copyfile(first, live)
    assert ctl(s, "migrate").returncode == 0
    s.start_depot()
    names = set()
    page = 1
    while True:
        body = c.get("/api/v1/storage/files", params={"page_size": 100, "page": page}).json()
        names |= {f["object_key"] for f in body["files"]}
        if page >= body["pagination"]["total_pages"]:
            break
        page += 1
    assert body["pagination"]["total"] == len(in_backup) and names == in_backup
    for f in before[:3]:
        r = c.get(f"/api/v1/storage/objects/{f['object_name']}/metadata")
        assert r.status_code == 200 and r.json()["sha256"] == f["sha256"]
    # An upload in flight during the backup left a reservation of a worker that no longer
    # exists: gc releases it and deletes its object. Uploads committed after the backup
    # are orphans to fsck (gc removes them once past the grace period).
    reserved = database_oracle.read_copy(first)["reservation_keys"]
    assert ctl(s, "stats", "--json").returncode == 0
    cleaned = ctl_json(s, "gc")
    assert {r["object_key"] for r in cleaned["reclaimed_reservations"]} == reserved
    assert cleaned["orphan_objects"] == []  # the default grace period protects recent objects
    after = {f["object_key"] for f in committed} - in_backup - reserved
    report = ctl_json(s, "fsck", code=1 if after else 0)
    assert {o["key"] for o in report["orphan_objects"]} == after
    assert report["missing_objects"] == [] and report["size_mismatches"] == []


@pytest.mark.sqlite_only("SQLite's online backup against raw writes to the file")
def test_backup_of_a_large_database_finishes_under_steady_writes(tmp_path):
    # A 40 MiB database committed to every few ms: the backup still completes (no restart livelock) and is consistent.
    conf = write_config(str(tmp_path), f"[database]\npath = {tmp_path / 'depot.sqlite3'}\n")
    assert ctl(bin_dir(), "migrate", config=conf).returncode == 1  # no database yet
    (tmp_path / "depot.sqlite3").touch()
    assert ctl(bin_dir(), "migrate", config=conf).returncode == 0
    database_oracle.add_ballast(tmp_path / "depot.sqlite3", rows=200, row_bytes=200_000)
    stop, writes = threading.Event(), []
    t = threading.Thread(target=database_oracle.steady_writes, args=(tmp_path / "depot.sqlite3", stop, writes))
    t.start()
    try:
        wait_until(lambda: len(writes) >= 20, 10, "writes")
        out = json.loads(ctl(bin_dir(), "backup", str(tmp_path / "copy.sqlite3"), "--json", config=conf, timeout=30).stdout)
        during = len(writes)
    finally:
        stop.set()
        t.join(10)
    assert out["integrity_check"] == "ok" and len(writes) > 20
    assert database_oracle.row_count(tmp_path / "copy.sqlite3", "ballast") == 200
    assert 20 <= database_oracle.row_count(tmp_path / "copy.sqlite3", "buckets") <= during


# -------------------------------------------------------------------- keys

def test_keys_rotate_then_old_and_new_files_download(fresh_stack):
    # keys rotate + SIGHUP: the new upload uses k2, both files download intact, keys status shows one file per key.
    s = fresh_stack()
    c = Client(s)
    old_data = os.urandom(100_000)
    old = upload_ok(c, "old.bin", old_data)
    status = ctl_json(s, "keys", "status")
    assert status["current"] == "k1" and [(k["id"], k["files"]) for k in status["keys"]] == [("k1", 1)]

    key_file = s.path("secrets", "master.keys")
    first_line = open(key_file).read().splitlines()[0]
    rotated = ctl(s, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "k2" in rotated.stdout and "SIGHUP" in rotated.stdout
    lines = open(key_file).read().splitlines()
    assert lines[0] == first_line and re.fullmatch(r"k2 [0-9a-f]{64}", lines[1]) and len(lines) == 2
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert not [n for n in os.listdir(s.path("secrets")) if ".tmp-" in n]

    reload_workers(s)
    new_data = os.urandom(120_000)
    new = upload_ok(c, "new.bin", new_data)
    for f, data in ((old, old_data), (new, new_data)):
        r = download(c, f["object_key"])
        assert r.status_code == 200, r.text
        assert r.content == data
    status = ctl_json(s, "keys", "status")
    assert status["current"] == "k2"
    assert [(k["id"], k["files"], k["bytes"], k["current"]) for k in status["keys"]] == \
        [("k1", 1, 100_000, False), ("k2", 1, 120_000, True)]
    assert ctl_json(s, "keys", "rotate")["key_id"] == "k3"

    # A record naming a key the file lacks is a problem (exit 1).
    database_oracle.set_key_id(s, old["object_key"], "k9")
    bad = ctl(s, "keys", "status")
    assert bad.returncode == 1 and "k9" in bad.stdout + bad.stderr


# -------------------------------------------------- health, metrics, logs

def test_health_flips_to_503_when_the_store_stops(fresh_stack):
    # /api/v1/health is 200 with the store up, 503 JSON while it is down, 200 again once it is back.
    s = fresh_stack()
    url = s.base_url + "/api/v1/health"
    assert requests.get(url, timeout=30).status_code == 200
    s.stop_store()
    r = wait_until(lambda: (lambda r: r if r.status_code == 503 else None)(requests.get(url, timeout=30)), 30, "503")
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "unavailable", "database": "ok", "store": "error"}
    assert "Retry-After" in r.headers
    s.start_store()
    r = wait_until(lambda: (lambda r: r if r.status_code == 200 else None)(requests.get(url, timeout=30)), 60, "200")
    assert r.json() == {"status": "ok", "database": "ok", "store": "ok"}


def test_metrics_parse_as_prometheus_text(stack, client):
    # /metrics through nginx parses with prometheus_client and counts requests by route and status.
    for _ in range(6):
        client.get("/api/v1/storage/quota")

    def scrape():
        r = requests.get(stack.base_url + "/metrics", timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        samples = [x for x in families["depot_requests"].samples if x.name == "depot_requests_total"]
        return families if any(x.labels.get("route") == "/api/v1/storage/quota" for x in samples) else None

    families = wait_until(scrape, 20, "a worker that served the quota route")
    sample = next(x for x in families["depot_requests"].samples if x.labels.get("route") == "/api/v1/storage/quota")
    assert families["depot_requests"].type == "counter"
    assert set(sample.labels) >= {"method", "route", "status"} and sample.value >= 1
    for name in ("depot_upload_bytes", "depot_quota_rejections", "depot_store_errors", "depot_reservations"):
        assert name in families, name


def parse_log_line(line):
    return {k: (v[1:-1] if v.startswith('"') else v)
            for k, v in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line)}


NGINX_LINE = re.compile(r'^\S+ - \[[^]]+\] "(?P<method>\S+) (?P<path>\S+) \S+" (?P<status>\d{3}) \d+ [\d.]+ "[^"]*" '
                        r'rid=(?P<rid>[0-9a-f]{32}) user=(?P<user>\S*)$')


def access_lines(stack, offset, rids):
    """nginx's access-log lines from `offset` on whose rid is one of `rids`."""
    with open(stack.path("logs", "nginx-access.log"), errors="replace") as f:
        f.seek(offset)
        lines = [NGINX_LINE.match(l.rstrip("\n")) for l in f]
    return [m.groupdict() for m in lines if m and m["rid"] in rids]


def test_nginx_logs_one_line_per_request_with_its_user_and_workers_none(stack, client):
    # One place logs each request: nginx's access log, with request id, status and the user the worker named
    # (also for an error and for a download served from the store); the workers write no line of their own.
    log = stack.path("logs", "nginx-access.log")
    depot_log = stack.path("logs", "depot.log")
    time.sleep(0.3)
    offset, depot_offset = os.path.getsize(log), os.path.getsize(depot_log)
    probe = uuid.uuid4().hex
    f = client.upload(f"{probe}.txt", b"logged").json()
    answers = {
        "quota": client.get("/api/v1/storage/quota"),
        "mine": client.get(f"/api/v1/storage/objects/{probe}-missing.txt/metadata"),
        "anonymous": requests.get(stack.base_url + f"/api/v1/storage/nothing-{probe}", timeout=30),
        "download": client.get("/api/v1/objects/download", params={"objectKey": f["object_key"]}),
    }
    assert [a.status_code for a in answers.values()] == [200, 404, 404, 200]
    assert answers["download"].content == b"logged"
    for a in answers.values():
        assert not any(h.lower().startswith("x-depot-") for h in a.headers), a.headers
    rids = {name: a.headers.get("X-Request-Id") or (a.json()["error"]["request_id"] if a.status_code >= 400 else None)
            for name, a in answers.items()}
    found = wait_until(lambda: (lambda l: l if len(l) >= 2 else None)(
        access_lines(stack, offset, {r for r in rids.values() if r})), 10, "access lines")
    time.sleep(0.3)
    by_rid = {}
    for line in access_lines(stack, offset, {r for r in rids.values() if r}):
        assert line["rid"] not in by_rid, "one line per request"
        by_rid[line["rid"]] = line
    assert found
    mine, anonymous = by_rid[rids["mine"]], by_rid[rids["anonymous"]]
    assert (mine["status"], mine["user"], mine["path"]) == ("404", client.user, f"/api/v1/storage/objects/{probe}-missing.txt/metadata")
    assert (anonymous["status"], anonymous["user"]) == ("404", "-")
    # The quota and download lines name the caller and the path asked for (the download's bytes came from /_store/).
    with open(log, errors="replace") as fh:
        fh.seek(offset)
        ours = [m.groupdict() for m in (NGINX_LINE.match(l.rstrip("\n")) for l in fh) if m]
    assert {(l["path"], l["status"], l["user"]) for l in ours if l["path"] in ("/api/v1/storage/quota", "/api/v1/objects/download")} \
        >= {("/api/v1/storage/quota", "200", client.user), ("/api/v1/objects/download", "200", client.user)}
    with open(depot_log, errors="replace") as fh:
        fh.seek(depot_offset)
        assert not [l for l in fh if " msg=request " in l]
