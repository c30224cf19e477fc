"""Offboarding with depotctl: `user delete`, `org delete` and `file rm`,
each a dry run unless --yes, against a real database and store."""
import base64
import os

import requests

import database_oracle
from conftest import Client, assert_error, store_keys
from depotctl_cli import run as ctl, run_json as ctl_json

TUS = {"Tus-Resumable": "1.0.0"}


def upload_ok(client, name, data):
    r = client.upload(name, data)
    assert r.status_code == 201, r.text
    return r.json()


def usage(client):
    r = client.get("/api/v1/storage/usage")
    assert r.status_code == 200, r.text
    return r.json()


def download(client, key):
    return client.get("/api/v1/objects/download", params={"objectKey": key})


def start_resumable(client, length, first_chunk):
    """A tus upload with its first bytes sent (a staging object at the store); its URL."""
    meta = "filename " + base64.b64encode(b"big.bin").decode()
    r = requests.post(client.url("/api/v1/storage/uploads"), timeout=30,
                      headers=dict(client.headers, **TUS, **{"Upload-Length": str(length), "Upload-Metadata": meta}))
    assert r.status_code == 201, r.text
    location = r.headers["Location"]
    r = requests.patch(location, data=first_chunk, timeout=60, headers=dict(
        client.headers, **TUS, **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
    assert r.status_code == 204, r.text
    return location


def multipart_keys(stack, prefix):
    page = stack.s3().list_multipart_uploads(Bucket=stack.bucket, Prefix=prefix)
    return {u["Key"] for u in page.get("Uploads", [])}


def test_user_delete_dry_run_then_yes(fresh_stack):
    # The dry run lists what would go and changes nothing; --yes removes the user's files (404, gone from the
    # store), links and uploads, drops the organization's usage by exactly their bytes, and leaves the colleague's
    # file and a clean fsck.
    s = fresh_stack()
    leaving = Client(s)
    staying = leaving.colleague()
    mine = [upload_ok(leaving, "a.csv", os.urandom(3000)), upload_ok(leaving, "b.bin", os.urandom(5000))]
    theirs_data = os.urandom(700)
    theirs = upload_ok(staying, "c.bin", theirs_data)
    link = leaving.get(f"/api/v1/storage/objects/{mine[0]['object_name']}/presigned-url").json()
    assert leaving.post("/api/v1/storage/upload-urls", json={}).status_code == 201
    tus = start_resumable(leaving, 20_000, os.urandom(4000))
    user_prefix = f"organizations/{leaving.org}/files/{leaving.user}/"
    # Shares both ways: the colleague's shared listing loses the leaver's files, keeps nothing of them in its total.
    for who, name, body in ((leaving, mine[0]["object_name"], {"organization": True}),
                            (leaving, mine[1]["object_name"], {"user_id": staying.user}),
                            (staying, theirs["object_name"], {"organization": True})):
        assert who.post(f"/api/v1/storage/objects/{name}/shares", json=body).status_code == 201
    assert staying.get("/api/v1/storage/files", params={"scope": "shared"}).json()["pagination"]["total"] == 2
    before = usage(staying)
    assert before["used_bytes"] == 8700 and before["reserved_bytes"] == 20_000

    dry = ctl_json(s, "user", "delete", leaving.org, leaving.user)
    assert dry["dry_run"] is True
    assert (dry["files"], dry["bytes"], dry["download_links"], dry["upload_links"]) == (2, 8000, 1, 1)
    assert (dry["resumable_uploads"], dry["reservations"], dry["reserved_bytes"], dry["users"]) == (1, 1, 20_000, 1)
    assert {f["object_key"] for f in mine} <= set(dry["objects"])
    assert usage(staying) == before
    assert requests.get(link["url"], timeout=30).status_code == 200
    text = ctl(s, "user", "delete", leaving.org, leaving.user)
    assert text.returncode == 0 and "dry run: nothing changed" in text.stdout and "--yes" in text.stdout

    done = ctl_json(s, "user", "delete", leaving.org, leaving.user, "--yes")
    assert done["dry_run"] is False and done["failed_deletes"] == []
    assert set(done["deleted_objects"]) == set(done["objects"]) == set(dry["objects"])
    # The user is gone from the organization; a second delete finds nobody.
    assert leaving.user not in ctl_json(s, "org", "show", leaving.org)["user_ids"]
    again = ctl(s, "user", "delete", leaving.org, leaving.user, "--yes")
    assert again.returncode == 1 and "no user" in again.stderr
    # Their still-valid token now reaches nothing of before (and makes them a new, empty member).
    for f in mine:
        assert_error(download(leaving, f["object_key"]), 404)
        assert_error(leaving.get(f"/api/v1/storage/objects/{f['object_name']}/metadata"), 404)
    assert_error(requests.get(link["url"], timeout=30), 404)
    assert requests.head(tus, headers=dict(leaving.headers, **TUS), timeout=30).status_code == 404
    assert not {k for k in store_keys(s) if k.startswith(user_prefix)}
    assert not multipart_keys(s, f"organizations/{leaving.org}/")
    after = usage(staying)
    assert after["used_bytes"] == before["used_bytes"] - 8000 and after["file_count"] == 1 and after["reserved_bytes"] == 0
    assert download(staying, theirs["object_key"]).content == theirs_data
    shared = staying.get("/api/v1/storage/files", params={"scope": "shared"}).json()
    assert shared["files"] == [] and shared["pagination"]["total"] == 0
    assert ctl_json(s, "fsck")["clean"] is True
    assert database_oracle.bookkeeping_problems(s) == []
    # The counters match the records: recalculating changes nothing.
    recalculated = staying.colleague(role="admin").post("/api/v1/storage/quota/recalculate")
    assert recalculated.status_code == 200, recalculated.text
    assert recalculated.json()["before"] == recalculated.json()["after"]
    assert leaving.get("/api/v1/storage/files").json()["files"] == []


def test_org_delete_removes_the_organization_and_nothing_else(fresh_stack):
    # org delete --yes: every user, file and object of the organization goes, the organization record too;
    # another organization's file stays.
    s = fresh_stack()
    member = Client(s)
    other = member.colleague()
    outsider = Client(s)
    for c, name in ((member, "m.bin"), (other, "o.bin")):
        upload_ok(c, name, os.urandom(1000))
    kept = upload_ok(outsider, "kept.bin", b"kept")
    dry = ctl_json(s, "org", "delete", member.org)
    assert (dry["files"], dry["bytes"], dry["users"]) == (2, 2000, 2)
    assert ctl_json(s, "org", "show", member.org)["file_count"] == 2

    done = ctl_json(s, "org", "delete", member.org, "--yes")
    assert done["failed_deletes"] == [] and len(done["deleted_objects"]) == 2
    shown = ctl(s, "org", "show", member.org)
    assert shown.returncode == 1 and "no organization" in shown.stderr
    assert not {k for k in store_keys(s) if k.startswith(f"organizations/{member.org}/")}
    assert download(outsider, kept["object_key"]).content == b"kept"
    assert ctl_json(s, "fsck")["clean"] is True


def test_file_rm_removes_one_file_and_frees_its_bytes(stack):
    # file rm KEY: a dry run first; --yes deletes the record, its object and its links, and frees its bytes.
    c = Client(stack)
    gone, kept = upload_ok(c, "gone.bin", os.urandom(1234)), upload_ok(c, "kept.bin", b"kept")
    link = c.get(f"/api/v1/storage/objects/{gone['object_name']}/presigned-url").json()
    dry = ctl_json(stack, "file", "rm", gone["object_key"])
    assert (dry["dry_run"], dry["files"], dry["bytes"], dry["download_links"]) == (True, 1, 1234, 1)
    assert download(c, gone["object_key"]).status_code == 200
    done = ctl_json(stack, "file", "rm", gone["object_key"], "--yes")
    assert done["deleted_objects"] == [gone["object_key"]] and done["failed_deletes"] == []
    assert_error(download(c, gone["object_key"]), 404)
    assert_error(requests.get(link["url"], timeout=30), 404)
    assert gone["object_key"] not in store_keys(stack, f"organizations/{c.org}/")
    assert usage(c)["used_bytes"] == 4 and usage(c)["file_count"] == 1
    assert download(c, kept["object_key"]).content == b"kept"
    missing = ctl(stack, "files", "rm", gone["object_key"])
    assert missing.returncode == 1 and "no file" in missing.stderr


def test_offboarding_arguments_are_checked(stack):
    # Malformed ids are usage errors (exit 2); the help says what --yes does.
    assert ctl(stack, "user", "delete", "not-a-uuid", "x").returncode == 2
    assert ctl(stack, "org", "delete", "nope").returncode == 2
    help_text = ctl(stack, "user", "delete", "--help").stdout
    assert "--yes" in help_text and "dry run" in help_text


def test_a_deleted_accounts_token_starts_afresh_on_every_worker(stack):
    # Every worker served the account before the deletion; after it, each one
    # answers as for a first-time token: an empty account, never a 404 or 500.
    member = Client(stack)
    colleague = member.colleague()
    upload_ok(member, "m.bin", b"m" * 100)
    upload_ok(colleague, "c.bin", b"c" * 10)
    for _ in range(6):
        assert member.get("/api/v1/storage/quota").status_code == 200
    ctl_json(stack, "user", "delete", member.org, colleague.user, "--yes")
    for _ in range(6):
        usage = colleague.get("/api/v1/storage/usage").json()
        assert (usage["user_used_bytes"], usage["user_file_count"], usage["used_bytes"]) == (0, 0, 100), usage
    ctl_json(stack, "org", "delete", member.org, "--yes")
    for i in range(6):
        usage = member.get("/api/v1/storage/usage")
        assert usage.status_code == 200, usage.text
        assert (usage.json()["used_bytes"], usage.json()["file_count"]) == (0, 0)
        assert member.get("/api/v1/storage/quota").json()["plan"] == "organization"
    assert upload_ok(member, "again.bin", b"a" * 5)["size"] == 5
