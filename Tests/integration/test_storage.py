"""The Storage API end to end: encrypted uploads under quota, listing,
metadata, delete, usage, and what bad input gets."""
import concurrent.futures
import hashlib
import os
import re
import socket
import subprocess
import time
import uuid

import pytest
import requests

import database_oracle
import depotctl_cli
from conftest import Client, assert_error, set_plan, store_keys

KEY_RE = re.compile(r"^organizations/([0-9a-f-]{36})/files/([0-9a-f-]{36})/([A-Za-z0-9._-]+)_(\d{8}_\d{6})_([0-9a-f]{8})(\.[a-z0-9._-]+)?$")


def org_objects(stack, org):
    return sorted(store_keys(stack, f"organizations/{org}/"))


def reservations(stack, org):
    return len(depotctl_cli.reservations(stack, org))


def records(stack, org):
    return depotctl_cli.record_keys(stack, org)


def test_upload_with_curl_form(client):
    # curl -F: the record keeps the name, the key follows the contract format.
    data = os.urandom(3000)
    path = os.path.join(client.stack.run_dir, "curl-upload.bin")
    with open(path, "wb") as f:
        f.write(data)
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + client.token,
                          "-F", f"file=@{path};filename=Quarterly Report.PDF", "-F", "category=data_source",
                          client.url("/api/v1/storage/upload")], capture_output=True, text=True, check=True).stdout
    body, status = out.rsplit("\n", 1)
    assert status == "201", body
    import json
    f = json.loads(body)
    assert f["original_filename"] == "Quarterly Report.PDF"
    m = KEY_RE.match(f["object_key"])
    assert m, f["object_key"]
    assert (m.group(1), m.group(2), m.group(3), m.group(6)) == (client.org, client.user, "Quarterly_Report", ".pdf")
    assert f["object_name"] == f["object_key"].rsplit("/", 1)[1]
    assert f["size"] == 3000 and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert f["category"] == "data_source" and f["bucket"] == "depot"
    assert f["uploaded_at"].endswith("Z") and f["workflow_id"] is None
    assert set(f) == {"id", "object_name", "object_key", "original_filename", "size", "content_type", "category",
                      "sha256", "etag", "uploaded_at", "bucket", "workflow_id", "run_id", "direction",
                      "expires_at", "owner_id", "shared"}
    assert f["expires_at"] is None and f["owner_id"] == client.user and f["shared"] is False


def test_unicode_name_is_kept_and_store_holds_only_ciphertext(client):
    # Python requests upload of a hostile name; the store cannot serve it without the key, its disk has no plaintext.
    marker = b"DEPOT-MARKER-" + uuid.uuid4().hex.encode()
    data = marker * 200
    name = 'Ünïcødé "quoted"; name.tar.gz'
    r = client.upload(name, data)
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["original_filename"] == name
    m = KEY_RE.match(f["object_key"])
    assert m and m.group(6) == ".gz" and m.group(3) == "_n_c_d_quoted_name.tar", f["object_key"]
    meta = client.get(f"/api/v1/storage/objects/{f['object_name']}/metadata").json()
    assert meta == f
    s3 = client.stack.s3()
    with pytest.raises(Exception):
        s3.get_object(Bucket=client.stack.bucket, Key=f["object_key"])["Body"].read()
    found = subprocess.run(["grep", "-rl", "--binary-files=text", marker.decode(), client.stack.path("store")],
                           capture_output=True, text=True)
    assert found.stdout == "", found.stdout


def test_large_upload_goes_multipart_and_round_trips(client):
    # 40 MiB: above the single-PUT threshold, sent as S3 multipart, bytes intact.
    data = os.urandom(40 << 20)
    r = client.upload("big.bin", data)
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    d = client.get("/api/v1/objects/download", params={"objectKey": f["object_key"]})
    assert d.status_code == 200 and hashlib.sha256(d.content).hexdigest() == f["sha256"]


def test_quota_race_lets_exactly_what_fits(stack):
    # 16 concurrent 256 KiB uploads into 1 MiB of room: 4 succeed, 12 get quota_exceeded.
    c = Client(stack)
    c.get("/api/v1/storage/quota").raise_for_status()
    set_plan(stack, c.org, "tiny")  # 1 MiB quota, 512 KiB per file, 5 files
    payloads = [os.urandom(256 << 10) for _ in range(16)]

    def up(i):
        return Client(stack, org=c.org, user=c.user, token=c.token).upload(f"part{i}.bin", payloads[i])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(up, range(16)))
    ok = [r for r in results if r.status_code == 201]
    refused = [r for r in results if r.status_code != 201]
    assert len(ok) == 4, [r.status_code for r in results]
    for r in refused:
        assert_error(r, 413, "quota_exceeded")
    usage = c.get("/api/v1/storage/usage").json()
    assert usage["used_bytes"] == 4 * (256 << 10) == sum(r.json()["size"] for r in ok)
    assert usage["reserved_bytes"] == 0 and usage["file_count"] == 4 and usage["available_bytes"] == 0
    assert org_objects(stack, c.org) == sorted(r.json()["object_key"] for r in ok) == records(stack, c.org)
    assert reservations(stack, c.org) == 0


def test_limits_refuse_and_store_nothing(stack):
    # Each bad upload gets its status and code; nothing reaches the store or the records.
    c = Client(stack)
    c.get("/api/v1/storage/quota").raise_for_status()
    set_plan(stack, c.org, "tiny")
    url = c.url("/api/v1/storage/upload")
    assert_error(c.upload("big.bin", os.urandom(600 << 10)), 413, "file_too_large")
    assert_error(c.upload("empty.txt", b""), 400, "empty_file")
    assert_error(c.post("/api/v1/storage/upload", files={"other": ("x.txt", b"abc")}), 400, "missing_file")
    assert_error(c.post("/api/v1/storage/upload", data={"category": "general"}), 400)
    assert_error(c.upload("x.txt", b"abc", category="music"), 422, "invalid_category")
    assert_error(c.upload("avatar.png", b"just some text, not an image", category="profile_image"), 415,
                 "unsupported_media_type")
    h = dict(c.headers)
    assert_error(requests.post(url, data=b"--x\r\n", headers={**h, "Content-Type": "multipart/form-data"}), 400,
                 "malformed_multipart")
    body = (b"--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello")
    assert_error(requests.post(url, data=body, headers={**h, "Content-Type": "multipart/form-data; boundary=BOUND"}),
                 400, "malformed_multipart")  # boundary never closed
    assert_error(requests.post(url, data=body[:20], headers={**h, "Content-Type": "multipart/form-data; boundary=BOUND"}),
                 400, "malformed_multipart")  # truncated
    assert_error(requests.post(url, data=b"{}", headers={**h, "Content-Type": "application/json"}), 400,
                 "malformed_multipart")
    assert org_objects(stack, c.org) == [] and records(stack, c.org) == [] and reservations(stack, c.org) == 0
    for i in range(5):
        assert c.upload(f"f{i}.txt", b"x" * 10).status_code == 201
    assert_error(c.upload("sixth.txt", b"x" * 10), 413, "too_many_files")
    assert len(org_objects(stack, c.org)) == 5 and reservations(stack, c.org) == 0


def test_profile_image_is_judged_by_its_bytes(client):
    # A real PNG named .txt is accepted as image/png; over 5 MiB is refused.
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
    r = client.upload("not-really.txt", png, category="profile_image", content_type="text/plain")
    assert r.status_code == 201 and r.json()["content_type"] == "image/png"
    assert_error(client.upload("huge.png", png + os.urandom(5 << 20), category="profile_image"), 413, "file_too_large")


def test_files_pagination_over_250_files(stack):
    # 250 files: totals, pages, sorting, category filter.
    c = Client(stack)
    c.get("/api/v1/storage/quota").raise_for_status()
    sizes = {}
    for i in range(250):
        cat = "data_source" if i % 5 == 0 else "general"
        r = c.upload(f"file-{i:03d}.txt", os.urandom(i + 1), category=cat)
        assert r.status_code == 201
        sizes[r.json()["id"]] = i + 1
    page = c.get("/api/v1/storage/files", params={"page_size": 100, "page": 3}).json()
    assert page["pagination"] == {"page": 3, "page_size": 100, "total": 250, "total_pages": 3}
    assert len(page["files"]) == 50
    seen = []
    for p in (1, 2, 3):
        seen += [f["id"] for f in c.get("/api/v1/storage/files", params={"page_size": 100, "page": p}).json()["files"]]
    assert len(seen) == 250 and set(seen) == set(sizes)
    by_size = c.get("/api/v1/storage/files", params={"sort": "size", "order": "asc", "page_size": 5}).json()["files"]
    assert [f["size"] for f in by_size] == [1, 2, 3, 4, 5]
    last = c.get("/api/v1/storage/files", params={"sort": "size", "order": "asc", "page_size": 100, "page": 3}).json()
    assert [f["size"] for f in last["files"]] == list(range(201, 251))
    by_name = c.get("/api/v1/storage/files", params={"sort": "original_filename", "order": "desc", "page_size": 2}).json()
    assert [f["original_filename"] for f in by_name["files"]] == ["file-249.txt", "file-248.txt"]
    ds = c.get("/api/v1/storage/files", params={"category": "data_source"}).json()
    assert ds["pagination"]["total"] == 50 and all(f["category"] == "data_source" for f in ds["files"])
    newest = c.get("/api/v1/storage/files", params={"page_size": 1}).json()["files"][0]
    assert newest["original_filename"] == "file-249.txt"
    assert c.get("/api/v1/storage/files", params={"page": 4, "page_size": 100}).json()["files"] == []
    for bad in ({"page": 0}, {"page_size": 101}, {"page_size": "x"}, {"sort": "name"}, {"order": "up"},
                {"category": "music"}):
        assert_error(c.get("/api/v1/storage/files", params=bad), 400, "invalid_parameter")


def test_other_users_files_are_invisible(client):
    # Another user of the same organization: 404 on metadata and delete, absent from listings.
    f = client.upload("mine.txt", b"secret").json()
    other = client.colleague()
    for name in (f["object_name"], f["object_key"].replace("/", "%2F")):
        assert_error(other.get(f"/api/v1/storage/objects/{name}/metadata"), 404)
        assert_error(other.get(f"/api/v1/storage/objects/{name}/presigned-url"), 404)
        assert_error(other.delete(f"/api/v1/storage/objects/{name}"), 404)
    listing = other.get("/api/v1/storage/buckets/depot/objects").json()
    assert all(o["key"].startswith(f"organizations/{other.org}/files/{other.user}/") for o in listing["objects"])
    assert f["object_key"] not in [o["key"] for o in listing["objects"]]
    assert f["id"] not in [x["id"] for x in other.get("/api/v1/storage/files").json()["files"]]
    assert client.get(f"/api/v1/storage/objects/{f['object_name']}/metadata").status_code == 200


def raw_get(stack, target, token):
    """Sends the request target exactly as given (no client-side normalization)."""
    s = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return int(data.split(b" ", 2)[1])


def test_traversal_attempts_never_reach_another_folder(client):
    # Encoded separators, dot segments, NUL, backslashes, double encoding: 400 or 404, never a file.
    victim = client.colleague()
    f = victim.upload("victim.txt", b"victim data").json()
    rel = f"..%2f{victim.user}%2f{f['object_name']}"
    targets = [
        f"/api/v1/storage/objects/{rel}/metadata",
        f"/api/v1/storage/objects/%2e%2e%2f{victim.user}%2f{f['object_name']}/metadata",
        f"/api/v1/storage/objects/%252e%252e%252f{f['object_name']}/metadata",
        f"/api/v1/storage/objects/{f['object_name']}%00/metadata",
        f"/api/v1/storage/objects/..%5c{f['object_name']}/metadata",
        f"/api/v1/storage/objects/organizations%2F{client.org}%2Ffiles%2F{client.user}%2F..%2F{victim.user}%2F{f['object_name']}/metadata",
        f"/api/v1/storage/objects/{f['object_key'].replace('/', '%2F')}/metadata",
        f"/api/v1/storage/objects/a%2F%2Fb/metadata",
        f"/api/v1/storage/objects/%0d%0aX-Evil:1/metadata",
    ]
    for t in targets:
        status = raw_get(client.stack, t, client.token)
        assert status in (400, 404), (t, status)
    assert raw_get(client.stack, f"/api/v1/storage/objects/{rel}/metadata", client.token) == 400
    assert raw_get(client.stack, f"/api/v1/storage/objects/{f['object_name']}%00/metadata", client.token) == 400


def test_delete_frees_quota_at_once(client):
    # DELETE removes record, object and usage in one go; a second delete is 404.
    f = client.upload("gone.bin", os.urandom(1000)).json()
    before = client.get("/api/v1/storage/usage").json()
    assert client.delete(f"/api/v1/storage/objects/{f['object_name']}").status_code == 204
    after = client.get("/api/v1/storage/usage").json()
    assert before["used_bytes"] - after["used_bytes"] == 1000
    assert before["file_count"] - after["file_count"] == 1
    assert f["object_key"] not in org_objects(client.stack, client.org)
    assert_error(client.get(f"/api/v1/storage/objects/{f['object_name']}/metadata"), 404)
    assert_error(client.delete(f"/api/v1/storage/objects/{f['object_name']}"), 404)


def test_usage_counts_the_organization_and_the_caller(client):
    # Organization-wide figures, the caller's share, per category.
    other = client.colleague()
    client.upload("a.csv", b"a" * 100, category="data_source")
    client.upload("b.txt", b"b" * 50)
    other.upload("c.txt", b"c" * 30)
    u = client.get("/api/v1/storage/usage").json()
    assert (u["used_bytes"], u["file_count"], u["user_used_bytes"], u["user_file_count"]) == (180, 3, 150, 2)
    assert u["by_category"]["data_source"] == {"bytes": 100, "files": 1}
    assert u["by_category"]["general"] == {"bytes": 80, "files": 2}
    assert u["available_bytes"] == u["quota_bytes"] - 180


def test_recalculate_is_admin_only_and_rebuilds_figures(stack):
    # Members get 403; an admin sees before/after, repaired from the records.
    admin = Client(stack, role="admin")
    admin.upload("x.bin", b"x" * 500)
    member = admin.colleague()
    assert_error(member.post("/api/v1/storage/quota/recalculate"), 403, "forbidden")
    database_oracle.corrupt_usage(stack, admin.org, used_bytes=12345)
    r = admin.post("/api/v1/storage/quota/recalculate")
    assert r.status_code == 200
    assert r.json()["before"]["used_bytes"] == 12345 and r.json()["after"]["used_bytes"] == 500


def test_bucket_listing_pages_through_own_keys(client):
    # limit 2 over 5 objects: three pages via continuation tokens; unknown bucket 404.
    keys = sorted(client.upload(f"l{i}.txt", b"z" * (i + 1)).json()["object_key"] for i in range(5))
    seen, token = [], None
    for _ in range(5):
        params = {"limit": 2, **({"continuation_token": token} if token else {})}
        page = client.get("/api/v1/storage/buckets/depot/objects", params=params).json()
        assert set(page) == {"objects", "next_continuation_token"}
        seen += [o["key"] for o in page["objects"]]
        for o in page["objects"]:
            assert set(o) == {"key", "size", "etag", "last_modified", "content_type"}
        token = page["next_continuation_token"]
        if not token:
            break
    assert seen == keys
    assert_error(client.get("/api/v1/storage/buckets/elsewhere/objects"), 404)
    assert_error(client.get("/api/v1/storage/buckets/depot/objects", params={"limit": 0}), 400)
    page = client.get("/api/v1/storage/buckets/depot/objects", params={"prefix": "l0"}).json()
    assert [o["key"] for o in page["objects"]] == [k for k in keys if k.rsplit("/", 1)[1].startswith("l0")]


def test_client_disconnect_mid_upload_leaves_nothing(client):
    # Half of a 50 MiB body, then the client hangs up: no record, object or reservation.
    size = 50 << 20
    head = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", client.stack.port))
    s.sendall((f"POST /api/v1/storage/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {client.token}\r\n"
               f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {size + len(head) + 8}\r\n\r\n").encode())
    s.sendall(head + os.urandom(size // 2))
    s.close()
    time.sleep(1)
    assert records(client.stack, client.org) == [] and reservations(client.stack, client.org) == 0
    assert org_objects(client.stack, client.org) == []
    assert client.get("/api/v1/storage/usage").json()["used_bytes"] == 0


def test_store_down_gives_503_and_keeps_nothing(fresh_stack):
    # Upload while the store is stopped: 503 with Retry-After, no record, no reservation.
    s = fresh_stack(workers=1)
    c = Client(s)
    c.get("/api/v1/storage/quota").raise_for_status()
    s.stop_store()
    r = c.upload("x.bin", os.urandom(1000))
    err = assert_error(r, 503, "store_unavailable")
    assert r.headers["Retry-After"]
    assert "127.0.0.1" not in err["message"]
    assert records(s, c.org) == [] and reservations(s, c.org) == 0
    s.start_store()
    r = c.upload("x.bin", os.urandom(1000))
    assert r.status_code == 201, r.text
