"""Workflow files can be managed; retention and bulk delete (CONTRACT.md,
"Workflow files can be managed", "Retention and bulk delete"): through
nginx, the workers, the store and the database."""
import base64
import json
import time
import uuid
from urllib.parse import quote

import requests

import database_oracle
from conftest import Client, assert_error, store_keys
from depotctl_cli import run_json as ctl_json

WORKFLOW = "/api/v1/storage/workflows/"
TUS = {"Tus-Resumable": "1.0.0"}


def upload_workflow(client, name, data, workflow, run, direction="output", **fields):
    r = client.upload(name, data, workflow_id=workflow, run_id=run, direction=direction, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def encoded(key):
    return quote(key, safe="")


def bulk_delete(client, body, raw=False):
    data = body if raw else json.dumps(body)
    return client.post("/api/v1/storage/objects/delete", data=data, headers={"Content-Type": "application/json"})


def names_of(response):
    return sorted(f["original_filename"] for f in response.json()["files"])


# ------------------------------------------------------------ workflow keys

def test_a_bare_name_never_deletes_a_workflow_file(client):
    # Regression: DELETE /objects/report.csv deleted the caller's workflow file named report.csv.
    wf, run = str(uuid.uuid4()), str(uuid.uuid4())
    f = upload_workflow(client, "report.csv", b"a,b\n", wf, run)
    assert_error(client.get("/api/v1/storage/objects/report.csv/metadata"), 404, "not_found")
    assert_error(client.delete("/api/v1/storage/objects/report.csv"), 404, "not_found")
    assert f["object_key"] in store_keys(client.stack, f"organizations/{client.org}/")
    assert client.get("/api/v1/storage/usage").json()["file_count"] == 1


def test_a_workflow_key_reaches_its_uploader_and_admins_only(client):
    # By full key: metadata for the uploader and an admin; another member, another organization's admin: 404.
    wf, run = str(uuid.uuid4()), str(uuid.uuid4())
    f = upload_workflow(client, "out.csv", b"x" * 10, wf, run)
    path = "/api/v1/storage/objects/" + encoded(f["object_key"])
    assert client.get(path + "/metadata").json()["id"] == f["id"]
    admin = client.colleague(role="admin")
    assert admin.get(path + "/metadata").json()["owner_id"] == client.user
    member = client.colleague()
    assert_error(member.get(path + "/metadata"), 404)
    assert_error(member.delete(path), 404)
    outsider = Client(client.stack, role="admin")
    assert_error(outsider.get(path + "/metadata"), 404)
    assert_error(outsider.delete(path), 404)
    assert client.get(path + "/metadata").status_code == 200


def test_uploader_and_admin_delete_workflow_files_by_key(client):
    # DELETE with the key: 204, the object and its quota go; again: 404.
    wf, run = str(uuid.uuid4()), str(uuid.uuid4())
    mine = upload_workflow(client, "a.csv", b"12345", wf, run)
    colleague = client.colleague()
    theirs = upload_workflow(colleague, "b.csv", b"123", wf, run)
    assert client.delete("/api/v1/storage/objects/" + encoded(mine["object_key"])).status_code == 204
    assert_error(client.delete("/api/v1/storage/objects/" + encoded(mine["object_key"])), 404)
    admin = client.colleague(role="admin")
    assert admin.delete("/api/v1/storage/objects/" + encoded(theirs["object_key"])).status_code == 204
    assert store_keys(client.stack, f"organizations/{client.org}/") == set()
    usage = client.get("/api/v1/storage/usage").json()
    assert usage["used_bytes"] == 0 and usage["file_count"] == 0


# ------------------------------------------------------------ listing

def test_workflow_listing_is_the_members_own_or_the_admins_all(client):
    # A member lists the files they uploaded, an admin every member's; run_id and direction narrow; pages as /files.
    wf, run, other_run = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    upload_workflow(client, "a.csv", b"a", wf, run)
    upload_workflow(client, "b.csv", b"b", wf, run, direction="input")
    upload_workflow(client, "c.csv", b"c", wf, other_run)
    colleague = client.colleague()
    upload_workflow(colleague, "theirs.csv", b"t", wf, run)
    upload_workflow(client, "elsewhere.csv", b"e", str(uuid.uuid4()), run)
    client.upload("plain.txt", b"p")
    mine = client.get(WORKFLOW + wf + "/files")
    assert mine.status_code == 200
    assert names_of(mine) == ["a.csv", "b.csv", "c.csv"]
    assert mine.json()["pagination"] == {"page": 1, "page_size": 20, "total": 3, "total_pages": 1}
    assert names_of(colleague.get(WORKFLOW + wf + "/files")) == ["theirs.csv"]
    admin = client.colleague(role="admin")
    assert names_of(admin.get(WORKFLOW + wf + "/files")) == ["a.csv", "b.csv", "c.csv", "theirs.csv"]
    assert names_of(admin.get(WORKFLOW + wf + f"/files?run_id={run}&direction=output")) == ["a.csv", "theirs.csv"]
    assert names_of(admin.get(WORKFLOW + wf.upper() + f"/files?run_id={run.upper()}&direction=input")) == ["b.csv"]
    first = client.get(WORKFLOW + wf + "/files?page_size=2&order=asc")
    second = client.get(WORKFLOW + wf + "/files?page_size=2&page=2&order=asc")
    assert [f["original_filename"] for f in first.json()["files"] + second.json()["files"]] == ["a.csv", "b.csv", "c.csv"]
    assert second.json()["pagination"]["total_pages"] == 2
    assert Client(client.stack, role="admin").get(WORKFLOW + wf + "/files").json()["files"] == []


def test_workflow_routes_refuse_malformed_ids(client):
    # Non-UUID workflow or run ids, an unknown direction, bad pages: 400 JSON; no token: 401.
    wf = str(uuid.uuid4())
    for path in ("not-a-uuid/files", wf + "/files?run_id=nope", wf + "/files?direction=sideways",
                 wf + "/files?page=0", wf + "/files?page_size=101", wf + "/files?order=up"):
        assert_error(client.get(WORKFLOW + path), 400, "invalid_parameter")
    for path in ("not-a-uuid/runs/" + str(uuid.uuid4()), wf + "/runs/x", wf + "/runs/%00"):
        assert_error(client.delete(WORKFLOW + path), 400)
    assert_error(requests.get(client.url(WORKFLOW + wf + "/files"), timeout=30), 401)


# ------------------------------------------------------------ run deletion

def test_deleting_a_run_removes_the_callers_files_then_an_admins_all(client):
    # A member's DELETE takes their files of the run; an admin's takes the rest; other runs stay; quota and objects follow.
    wf, run, other_run = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    upload_workflow(client, "a.csv", b"aaaa", wf, run)
    upload_workflow(client, "b.csv", b"bb", wf, run, direction="input")
    kept = upload_workflow(client, "c.csv", b"c", wf, other_run)
    colleague = client.colleague()
    upload_workflow(colleague, "d.csv", b"ddddddd", wf, run)
    path = WORKFLOW + wf + "/runs/" + run
    r = client.delete(path)
    assert r.status_code == 200 and r.json() == {"deleted": 2, "freed_bytes": 6}
    assert names_of(colleague.get(WORKFLOW + wf + "/files")) == ["d.csv"]
    admin = client.colleague(role="admin")
    assert admin.delete(path).json() == {"deleted": 1, "freed_bytes": 7}
    assert admin.delete(path).json() == {"deleted": 0, "freed_bytes": 0}
    assert store_keys(client.stack, f"organizations/{client.org}/") == {kept["object_key"]}
    usage = client.get("/api/v1/storage/usage").json()
    assert usage["used_bytes"] == 1 and usage["file_count"] == 1
    storage = client.get("/api/v1/objects/storage-usage").json()
    assert storage["fileCount"] == 1 and [b["workflowId"] for b in storage["breakdown"]] == [wf]


def test_breakdown_is_capped_at_100_workflows(client):
    # 101 workflows: the breakdown lists the 100 largest and says it was cut; the totals count all.
    workflows = [str(uuid.uuid4()) for _ in range(101)]
    for i, wf in enumerate(workflows):
        upload_workflow(client, "f.bin", b"x" * (i + 1), wf, str(uuid.uuid4()), direction="input")
    report = client.get("/api/v1/objects/storage-usage").json()
    assert report["breakdownTruncated"] is True and len(report["breakdown"]) == 100
    assert [b["workflowId"] for b in report["breakdown"]] == list(reversed(workflows))[:100]
    assert report["fileCount"] == 101 and report["inputBytes"] == sum(range(1, 102))
    other = Client(client.stack).get("/api/v1/objects/storage-usage").json()
    assert other["breakdown"] == [] and other["breakdownTruncated"] is False


# ------------------------------------------------------------ bulk delete

def test_bulk_delete_reports_deleted_and_not_found(client):
    # Names and keys go in one request; unknown, foreign and duplicate names are reported once; quota and objects follow.
    a = client.upload("a.txt", b"aaa").json()
    b = client.upload("b.txt", b"bb").json()
    kept = client.upload("c.txt", b"c").json()
    theirs = client.colleague().upload("d.txt", b"d").json()
    wf = upload_workflow(client, "w.csv", b"w", str(uuid.uuid4()), str(uuid.uuid4()))
    names = [a["object_name"], b["object_key"], a["object_name"], "missing_20260101_000000_00000000.txt",
             theirs["object_key"], wf["object_key"], "w.csv"]
    r = bulk_delete(client, {"object_names": names})
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": [names[0], names[1], names[5]], "not_found": [names[3], names[4], names[6]]}
    assert store_keys(client.stack, f"organizations/{client.org}/") == {kept["object_key"], theirs["object_key"]}
    usage = client.get("/api/v1/storage/usage").json()
    assert usage["user_used_bytes"] == 1 and usage["used_bytes"] == 2


def test_bulk_delete_refuses_bad_bodies_and_deletes_nothing(client):
    # Malformed JSON, wrong types, 0 or 1001 names, a name with .. or a control character: 400/422 JSON, every file stays.
    f = client.upload("keep.txt", b"k").json()
    name = f["object_name"]
    for body, status in (("{", 400), ("[]", 400), ('{"names": []}', 400), ('{"object_names": "x"}', 422),
                         ('{"object_names": [1]}', 422), ('{"object_names": []}', 422),
                         (json.dumps({"object_names": [name] * 1001}), 422),
                         (json.dumps({"object_names": [name, "../x"]}), 400),
                         (json.dumps({"object_names": [name, "a\u0000b"]}), 400),
                         (json.dumps({"object_names": [name, "a\nb"]}), 400)):
        assert_error(bulk_delete(client, body, raw=True), status)
    assert_error(bulk_delete(client, "x" * (3 << 20), raw=True), 413)
    assert_error(client.get("/api/v1/storage/objects/delete"), 405)
    assert f["object_key"] in store_keys(client.stack, f"organizations/{client.org}/")
    assert client.get("/api/v1/storage/usage").json()["file_count"] == 1


def test_bulk_delete_of_1000_names(client):
    # The largest list fits nginx's and the worker's limits; every real file among them goes.
    files = [client.upload(f"f{i}.txt", b"x").json() for i in range(3)]
    names = [f["object_key"] for f in files] + [f"missing_20260101_000000_{i:08x}.txt" for i in range(997)]
    r = bulk_delete(client, {"object_names": names})
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == names[:3] and len(r.json()["not_found"]) == 997
    assert client.get("/api/v1/storage/usage").json()["file_count"] == 0


# ------------------------------------------------------------ retention

def test_expires_in_sets_expires_at_and_bad_values_are_422(client):
    # expires_in gives expires_at = uploaded_at + expires_in; without it null; outside 60..31536000 or not an integer: 422.
    f = client.upload("short.txt", b"s", expires_in="3600").json()
    uploaded = time.mktime(time.strptime(f["uploaded_at"], "%Y-%m-%dT%H:%M:%SZ"))
    expires = time.mktime(time.strptime(f["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert expires - uploaded == 3600
    assert client.upload("forever.txt", b"f").json()["expires_at"] is None
    for value in ("59", "31536001", "1.5", "-60", "soon"):
        assert_error(client.upload("bad.txt", b"b", expires_in=value), 422, "invalid_parameter")
    assert client.get("/api/v1/storage/usage").json()["file_count"] == 2


def test_tus_metadata_expires_in_applies_at_completion(client):
    # Upload-Metadata expires_in: kept with the upload, the file expires that long after its last byte.
    def meta(**values):
        return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())
    url = client.url("/api/v1/storage/uploads")
    bad = requests.post(url, headers=dict(client.headers, **TUS, **{"Upload-Length": "3",
                                                                    "Upload-Metadata": meta(filename="a.txt", expires_in="5")}), timeout=30)
    assert_error(bad, 422, "invalid_parameter")
    created = requests.post(url, headers=dict(client.headers, **TUS, **{"Upload-Length": "3",
                                                                        "Upload-Metadata": meta(filename="a.txt", expires_in="120")}), timeout=30)
    assert created.status_code == 201, created.text
    done = requests.patch(created.headers["Location"], data=b"abc", timeout=30,
                          headers=dict(client.headers, **TUS, **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
    assert done.status_code == 204, done.text
    f = requests.get(created.headers["Location"], headers=client.headers, timeout=30).json()["file"]
    uploaded = time.mktime(time.strptime(f["uploaded_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert time.mktime(time.strptime(f["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - uploaded == 120


def test_gc_deletes_expired_files_and_frees_their_quota(client):
    # Once past expires_at, depotctl gc removes the record, its quota, its object and its listing; an unexpired file stays.
    stack = client.stack
    gone = client.upload("gone.txt", b"12345", expires_in="60").json()
    kept = client.upload("kept.txt", b"1", expires_in="3600").json()
    database_oracle.set_expiry(stack, gone["object_key"], int(time.time()) - 1)
    dry = ctl_json(stack, "gc", "--dry-run")
    assert gone["object_key"] in [f["object_key"] for f in dry["expired_files"]]
    assert gone["object_key"] in store_keys(stack, f"organizations/{client.org}/")
    report = ctl_json(stack, "gc")
    mine = [f for f in report["expired_files"] if f["object_key"] == gone["object_key"]]
    assert len(mine) == 1 and mine[0]["organization_id"] == client.org and mine[0]["user_id"] == client.user
    assert mine[0]["bytes"] == 5 and mine[0]["expires_at"].endswith("Z")
    assert gone["object_key"] in report["deleted_objects"]
    assert store_keys(stack, f"organizations/{client.org}/") == {kept["object_key"]}
    assert_error(client.get(f"/api/v1/storage/objects/{gone['object_name']}/metadata"), 404)
    usage = client.get("/api/v1/storage/usage").json()
    assert usage["used_bytes"] == 1 and usage["file_count"] == 1
    assert database_oracle.bookkeeping_problems(stack) == []
