"""PostgreSQL as the metadata backend, seen from outside: moving an
installation over, backups, the clean-up taking turns, and the API while
the database goes away and comes back. Run on the PostgreSQL pass only
(DEPOT_TEST_DATABASE=postgresql); every other test module runs on both."""
import hashlib
import json
import os
import stat
import subprocess
import time

import pytest
import requests

import database_oracle
from conftest import Client, assert_error
from depotctl_cli import run as ctl
from test_depotctl import bin_dir, write_config

pytestmark = pytest.mark.postgresql_only("PostgreSQL itself: its server, its dumps, its locks")

def upload(client, name, data):
    r = client.upload(name, data)
    assert r.status_code == 201, r.text
    return r.json()


def download(client, key):
    r = client.get("/api/v1/objects/download", params={"objectKey": key})
    assert r.status_code == 200, r.text
    return r.content


def test_migrate_data_moves_a_running_sqlite_installation_to_postgresql(fresh_stack, postgres_server):
    # Files uploaded on SQLite are listed, downloaded and counted the same after migrate-data and a restart on PostgreSQL.
    s = fresh_stack(database="sqlite")
    alice = Client(s)
    bob = alice.colleague()
    blobs = {f"doc-{i}.bin": os.urandom(1000 + i * 3000) for i in range(5)}
    stored = {name: upload(alice, name, data) for name, data in blobs.items()}
    upload(bob, "bob.txt", b"bob's")
    quota_before = alice.get("/api/v1/storage/quota").json()
    usage_before = alice.get("/api/v1/storage/usage").json()
    listing_before = alice.get("/api/v1/storage/files?page_size=100&sort=size&order=asc").json()

    url = postgres_server.create_database("migrated_" + os.urandom(4).hex())
    s.stop_depot()
    done = ctl(s, "migrate-data", "--from", "sqlite:" + s.path("data", "depot.sqlite3"), "--to", url,
               "--to-password-file", postgres_server.password_file)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "verified: every count and total agrees" in done.stdout
    assert "files: 6 → 6" in done.stdout
    assert postgres_server.password not in done.stdout + done.stderr

    # A second copy into the same database is refused and changes nothing.
    again = ctl(s, "migrate-data", "--from", "sqlite:" + s.path("data", "depot.sqlite3"), "--to", url,
                "--to-password-file", postgres_server.password_file)
    assert again.returncode == 1 and "already holds accounts or files" in again.stderr

    # The same node, now on PostgreSQL: the SQLite file is moved away so nothing can still read it.
    os.rename(s.path("data", "depot.sqlite3"), s.path("data", "old.sqlite3"))
    s.database, s.database_url, s.postgres = "postgresql", url, postgres_server
    with open(postgres_server.password_file) as src, \
            os.fdopen(os.open(s.database_password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as dst:
        dst.write(src.read())
    s._write_config()
    s.start_depot()
    assert alice.get("/api/v1/storage/quota").json() == quota_before
    assert alice.get("/api/v1/storage/usage").json() == usage_before
    assert alice.get("/api/v1/storage/files?page_size=100&sort=size&order=asc").json() == listing_before
    for name, data in blobs.items():
        assert hashlib.sha256(download(alice, stored[name]["object_key"])).digest() == hashlib.sha256(data).digest()
    # And it keeps working: a new upload and a delete.
    upload(alice, "after.bin", b"x" * 100)
    assert alice.delete(f"/api/v1/storage/objects/{stored['doc-0.bin']['object_name']}").status_code in (200, 204)


def test_migrate_data_refuses_a_password_in_the_url(stack):
    done = ctl(stack, "migrate-data", "--from", "sqlite:/nonexistent.sqlite3", "--to", "postgresql://depot:hunter2@127.0.0.1/x")
    assert done.returncode == 2
    assert "holds a password" in done.stderr and "hunter2" not in done.stderr


def test_backup_is_a_pg_dump_that_pg_restore_reads(stack, client, tmp_path):
    # depotctl backup on PostgreSQL writes a custom-format dump (0600) holding the file records; the password appears nowhere.
    upload(client, "kept.txt", b"kept")
    dest = tmp_path / "depot.pgdump"
    done = ctl(stack, "backup", str(dest))
    assert done.returncode == 0, done.stderr
    assert "pg_restore" in done.stdout
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert not [p for p in os.listdir(tmp_path) if p != "depot.pgdump"], "no temp or passfile left behind"
    listing = subprocess.run(["pg_restore", "--list", str(dest)], capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA public files" in listing and "TABLE DATA public reservations" in listing
    with open(stack.database_password_file) as f:
        assert f.read().strip() not in done.stdout + done.stderr


def test_gc_takes_turns_with_another_node(stack, client):
    # While another node's clean-up holds the maintenance lock, gc does nothing and says so; then it runs.
    with database_oracle.maintenance_lock(stack):
        done = ctl(stack, "gc")
        assert done.returncode == 0, done.stderr
        assert "skipped: another node is running the clean-up" in done.stdout
    done = ctl(stack, "gc")
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stdout and "reservations released" in done.stdout


def test_database_outage_is_503_then_recovers_with_nothing_lost(fresh_stack):
    # PostgreSQL stops: requests get a JSON 503 and an upload stores nothing; it comes back: the same workers serve again.
    s = fresh_stack(database="postgresql")
    c = Client(s)
    upload(c, "before.bin", b"before")
    quota = c.get("/api/v1/storage/quota").json()
    workers = sorted(s.worker_pids())
    s.postgres.stop()
    try:
        assert_error(c.get("/api/v1/storage/quota"), 503, "database_unavailable")
        assert_error(c.upload("during.bin", b"during" * 100), 503)
        health = requests.get(s.base_url + "/api/v1/health", timeout=30)
        assert health.status_code == 503 and health.json()["database"] == "error"
    finally:
        s.postgres.start()
    deadline = time.time() + 30
    while True:
        r = c.get("/api/v1/storage/quota")
        if r.status_code == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    assert r.json() == quota
    assert sorted(s.worker_pids()) == workers, "the workers reconnected; none was restarted"
    names = [f["original_filename"] for f in c.get("/api/v1/storage/files").json()["files"]]
    assert names == ["before.bin"]
    upload(c, "after.bin", b"after")


def test_init_and_migrate_on_a_new_postgresql_database(postgres_server, tmp_path):
    # init with a url creates the schema and the plans (no file, no directory); migrate is then a no-op;
    # a newer schema is refused; the password appears in no output.
    url = postgres_server.create_database("fresh_" + os.urandom(4).hex())
    conf = write_config(str(tmp_path), f"[database]\nurl = {url}\npassword_file = {postgres_server.password_file}\n"
                                       f"[encryption]\nmaster_key_file = {tmp_path / 'master.keys'}\n"
                                       f"[auth]\nhs256_secret_file = {tmp_path / 'jwt.key'}\n")
    done = ctl(bin_dir(), "init", config=conf)
    assert done.returncode == 0, done.stderr
    assert f"database {url}: created, schema" in done.stdout
    assert sorted(os.listdir(tmp_path)) == ["depot.conf", "jwt.key", "master.keys"], "no database file made"
    again = ctl(bin_dir(), "migrate", config=conf)
    assert again.returncode == 0 and "is current" in again.stdout
    plans = ctl(bin_dir(), "plan", "list", "--json", config=conf)
    assert plans.returncode == 0 and {"individual", "organization"} <= {p["name"] for p in json.loads(plans.stdout)["plans"]}
    database_oracle.set_schema_version(database_oracle.Postgres(url, postgres_server.password_file), 999)
    refused = ctl(bin_dir(), "migrate", config=conf)
    assert refused.returncode == 1 and "schema version 999, newer than this depotctl supports" in refused.stderr
    for out in (done, again, plans, refused):
        assert postgres_server.password not in out.stdout + out.stderr
