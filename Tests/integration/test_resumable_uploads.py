"""Resumable uploads (tus 1.0.0) through real nginx, workers, SQLite and
SeaweedFS: with the tus client users have (tuspy) and over raw HTTP where
the protocol's answers matter byte for byte. Acknowledged bytes survive a
killed worker, an nginx reload and a restart of Depot; every protocol error
of the contract answers as it says; the quota is reserved at creation and
given back by termination and by expiry; the file that results is the one
that was sent.
"""
import base64
import hashlib
import io
import os
import signal
import socket
import time
import uuid

import pytest
import requests
from tusclient import client as tus_client

from conftest import Client, assert_error, set_plan, store_keys
from depotctl_cli import reservations, run_json
from depotctl_cli import run as depotctl_run

UPLOADS = "/api/v1/storage/uploads"
MiB = 1 << 20
TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values):
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" if v is not None else k for k, v in values.items())


def create(client, length, headers=None, **meta):
    meta.setdefault("filename", "resumable.bin")
    h = dict(client.headers, **TUS, **{"Upload-Length": str(length), "Upload-Metadata": metadata(**meta)})
    h.update(headers or {})
    return requests.post(client.url(UPLOADS), headers=h, timeout=30)


def patch(client, location, offset, data, headers=None):
    h = dict(client.headers, **TUS, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
    h.update(headers or {})
    return requests.patch(location, headers=h, data=data, timeout=120)


def head(client, location):
    return requests.head(location, headers=dict(client.headers, **TUS), timeout=30)


def tus_uploader(client, data, chunk_size, url=None, **meta):
    meta.setdefault("filename", "tus.bin")
    tc = tus_client.TusClient(client.url(UPLOADS), headers=client.headers)
    return tc.uploader(file_stream=io.BytesIO(data), chunk_size=chunk_size, metadata=meta, url=url, retries=0)


def download(client, name):
    r = client.get(f"/api/v1/storage/objects/{name}/presigned-url")
    assert r.status_code == 200, r.text
    got = requests.get(r.json()["url"], timeout=120)
    assert got.status_code == 200, got.text[:300]
    return got.content


def file_of(client, location):
    r = requests.get(location, headers=client.headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def reserved_bytes(client):
    return client.get("/api/v1/storage/usage").json()["reserved_bytes"]


def test_options_discovery_needs_no_token(stack):
    r = requests.options(stack.base_url + UPLOADS, timeout=10)
    assert r.status_code == 204, r.text
    assert r.headers["Tus-Resumable"] == "1.0.0"
    assert r.headers["Tus-Version"] == "1.0.0"
    assert set(r.headers["Tus-Extension"].split(",")) == {"creation", "creation-with-upload", "termination", "expiration", "checksum"}
    assert r.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert int(r.headers["Tus-Max-Size"]) > 0


@pytest.mark.parametrize("size,chunk", [(13 * MiB + 5, 6 * MiB), (7 * MiB + 3, 1 * MiB), (300_000, 64 * 1024)])
def test_tuspy_uploads_in_chunks_and_the_file_is_the_source(stack, size, chunk):
    # Chunks larger than a part, chunks that must be staged (under the
    # store's 5 MiB part minimum) until a part is full, and a file smaller
    # than one part.
    c = Client(stack)
    data = os.urandom(size)
    uploader = tus_uploader(c, data, chunk, category="general")
    uploader.upload()
    info = file_of(c, uploader.url)
    assert info["offset"] == info["length"] == size
    f = info["file"]
    assert f["size"] == size and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert f["original_filename"] == "tus.bin" and f["category"] == "general"
    assert download(c, f["object_name"]) == data
    assert reserved_bytes(c) == 0
    listed = c.get("/api/v1/storage/files").json()
    assert [x["object_name"] for x in listed["files"]] == [f["object_name"]]
    # The staging objects are gone once the file is whole.
    assert not [k for k in store_keys(stack, f"organizations/{c.org}/uploads/")]


def test_resume_after_the_client_stopped_half_way(stack):
    c = Client(stack)
    data = os.urandom(12 * MiB + 17)
    first = tus_uploader(c, data, 5 * MiB)
    first.upload(stop_at=6 * MiB)
    r = head(c, first.url)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert int(r.headers["Upload-Offset"]) == 6 * MiB  # 5 MiB, then the 1 MiB up to stop_at
    assert int(r.headers["Upload-Length"]) == len(data) and r.headers["Upload-Expires"].endswith("GMT")
    second = tus_uploader(c, data, 5 * MiB, url=first.url)
    second.upload()
    f = file_of(c, first.url)["file"]
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert download(c, f["object_name"]) == data


def test_creation_with_upload_and_checksums(stack):
    c = Client(stack)
    data = os.urandom(3 * MiB)
    h = dict(c.headers, **TUS, **{"Upload-Length": str(len(data)), "Upload-Metadata": metadata(filename="cwu.bin"),
                                  "Content-Type": "application/offset+octet-stream"})
    r = requests.post(c.url(UPLOADS), headers=h, data=data[:MiB], timeout=30)
    assert r.status_code == 201, r.text
    assert r.headers["Upload-Offset"] == str(MiB) and r.headers["Tus-Resumable"] == "1.0.0"
    location = r.headers["Location"]
    assert location.startswith(stack.base_url + UPLOADS + "/")

    # A chunk that does not match its checksum is refused and not kept.
    bad = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    r = patch(c, location, MiB, data[MiB:2 * MiB], headers={"Upload-Checksum": bad})
    assert r.status_code == 460, r.text
    assert r.json()["error"]["code"] == "checksum_mismatch"
    assert head(c, location).headers["Upload-Offset"] == str(MiB)

    good = "sha1 " + base64.b64encode(hashlib.sha1(data[MiB:]).digest()).decode()
    r = patch(c, location, MiB, data[MiB:], headers={"Upload-Checksum": good})
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(len(data)) and r.headers["Upload-Expires"].endswith(" GMT")
    file_id = r.headers["Depot-File-Id"]
    f = file_of(c, location)["file"]
    assert f["id"] == file_id and f["sha256"] == hashlib.sha256(data).hexdigest()
    # The completed upload answers HEAD with its full offset.
    assert head(c, location).headers["Upload-Offset"] == str(len(data))


def test_protocol_errors(stack):
    c = Client(stack)
    other = Client(stack)
    # Without Tus-Resumable: 412 with Tus-Version.
    r = requests.post(c.url(UPLOADS), headers=dict(c.headers, **{"Upload-Length": "10", "Upload-Metadata": metadata(filename="a")}),
                      timeout=10)
    assert_error(r, 412, "unsupported_tus_version")
    assert r.headers["Tus-Version"] == "1.0.0"
    assert_error(create(c, 10, headers={"Upload-Defer-Length": "1"}), 400)
    assert_error(create(c, 10, headers={"Upload-Length": "-1"}), 400, "invalid_header")
    assert_error(create(c, 10, headers={"Upload-Length": "1e3"}), 400, "invalid_header")
    assert_error(create(c, 10, headers={"Upload-Metadata": "filename !!notbase64"}), 400, "invalid_metadata")
    assert_error(create(c, 10, headers={"Upload-Metadata": metadata(category="general")}), 400, "missing_file")
    assert_error(create(c, 10, category="nonsense"), 422, "invalid_category")

    r = create(c, 100)
    assert r.status_code == 201, r.text
    location = r.headers["Location"]
    assert_error(patch(c, location, 5, b"x" * 10), 409, "offset_mismatch")
    assert_error(patch(c, location, 0, b"x" * 10, headers={"Content-Type": "application/octet-stream"}), 415)
    assert_error(patch(c, location, 0, b"x" * 101), 413, "upload_too_long")
    r = requests.patch(location, headers=dict(c.headers, **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}),
                       data=b"x", timeout=10)
    assert_error(r, 412)
    # Another user's upload does not exist for them, whatever they try.
    assert head(other, location).status_code == 404
    assert_error(patch(other, location, 0, b"x" * 10), 404)
    assert_error(requests.delete(location, headers=dict(other.headers, **TUS), timeout=10), 404)
    assert_error(requests.get(location, headers=other.headers, timeout=10), 404)
    # An id altered by one character, and one that is not an id.
    assert head(c, location[:-1] + ("0" if location[-1] != "0" else "1")).status_code == 404
    assert head(c, stack.base_url + UPLOADS + "/..%2f..%2fquota").status_code == 404
    # Without a token nothing is told.
    assert requests.head(location, headers=TUS, timeout=10).status_code == 401
    # The refused chunks left the upload where it was.
    assert head(c, location).headers["Upload-Offset"] == "0"


def test_quota_is_reserved_at_creation_and_freed_by_termination(stack):
    c = Client(stack)
    c.get("/api/v1/storage/quota")  # the organization exists from its first request
    set_plan(stack, c.org, "small")  # 64 MiB quota, 8 MiB per file
    assert_error(create(c, 9 * MiB), 413, "file_too_large")
    first = create(c, 8 * MiB)
    assert first.status_code == 201, first.text
    assert reserved_bytes(c) == 8 * MiB
    locations = [first.headers["Location"]]
    for _ in range(7):
        r = create(c, 8 * MiB)
        assert r.status_code == 201, r.text
        locations.append(r.headers["Location"])
    # The whole 64 MiB is reserved: not one more byte fits.
    assert_error(create(c, 1), 413, "quota_exceeded")
    r = patch(c, locations[0], 0, os.urandom(6 * MiB))
    assert r.status_code == 204, r.text
    for i, location in enumerate(locations):
        r = requests.delete(location, headers=dict(c.headers, **TUS), timeout=30)
        assert r.status_code == 204, (i, r.text)
        assert r.headers["Tus-Resumable"] == "1.0.0"
        assert head(c, location).status_code == 404
    assert reserved_bytes(c) == 0
    assert not [r for r in reservations(stack) if r["organization_id"] == c.org]
    # Parts and staging objects went with the upload.
    assert not store_keys(stack, f"organizations/{c.org}/")
    s3 = stack.s3()
    assert not [u for u in s3.list_multipart_uploads(Bucket=stack.bucket, Prefix=f"organizations/{c.org}/").get("Uploads", [])]


def test_two_patches_at_once_one_wins(stack):
    c = Client(stack)
    r = create(c, 2 * MiB)
    location = r.headers["Location"]
    path = location[len(stack.base_url):]
    # The first PATCH sends half its body and waits, holding the upload.
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
    head_lines = [f"PATCH {path} HTTP/1.1", f"Host: 127.0.0.1:{stack.port}", f"Authorization: Bearer {c.token}",
                  "Tus-Resumable: 1.0.0", "Upload-Offset: 0", "Content-Type: application/offset+octet-stream",
                  f"Content-Length: {MiB}", "Connection: close"]
    sock.sendall(("\r\n".join(head_lines) + "\r\n\r\n").encode() + b"a" * (MiB // 2))
    time.sleep(1)
    second = patch(c, location, 0, b"b" * MiB)
    assert_error(second, 409)
    sock.sendall(b"a" * (MiB // 2))
    answer = sock.recv(4096).decode()
    sock.close()
    assert answer.startswith("HTTP/1.1 204"), answer
    assert head(c, location).headers["Upload-Offset"] == str(MiB)


def raw_patch_in_flight(stack, c, location, offset, total, sent):
    """A PATCH that announced `total` bytes and sent those of `sent`."""
    path = location[len(stack.base_url):]
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
    lines = [f"PATCH {path} HTTP/1.1", f"Host: 127.0.0.1:{stack.port}", f"Authorization: Bearer {c.token}",
             "Tus-Resumable: 1.0.0", f"Upload-Offset: {offset}", "Content-Type: application/offset+octet-stream",
             f"Content-Length: {total}", "Connection: close"]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
    return sock


def test_acknowledged_bytes_survive_a_killed_worker_a_reload_and_a_restart(fresh_stack):
    stack = fresh_stack(extra_config="[store]\npart_size = 5MiB\n")
    c = Client(stack)
    data = os.urandom(26 * MiB)
    r = create(c, len(data))
    location = r.headers["Location"]
    assert patch(c, location, 0, data[:6 * MiB]).status_code == 204

    # A worker killed in the middle of a PATCH: what reached whole parts
    # stays, the lock it held is taken over at once.
    sock = raw_patch_in_flight(stack, c, location, 6 * MiB, 8 * MiB, data[6 * MiB:13 * MiB])
    time.sleep(1.5)
    for pid in stack.upload_worker_pids():
        os.kill(pid, signal.SIGKILL)
    sock.close()
    time.sleep(1)
    offset = int(head(c, location).headers["Upload-Offset"])
    # The 1 MiB staged by the first PATCH and 4 MiB of this one made a part.
    assert offset == 10 * MiB, offset
    assert patch(c, location, offset, data[offset:16 * MiB]).status_code == 204

    stack.reload_nginx()
    time.sleep(1)
    assert head(c, location).headers["Upload-Offset"] == str(16 * MiB)
    assert patch(c, location, 16 * MiB, data[16 * MiB:20 * MiB]).status_code == 204

    stack.stop_depot()
    stack.start_depot()
    assert head(c, location).headers["Upload-Offset"] == str(20 * MiB)
    r = patch(c, location, 20 * MiB, data[20 * MiB:])
    assert r.status_code == 204, r.text
    f = file_of(c, location)["file"]
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert download(c, f["object_name"]) == data
    assert reserved_bytes(c) == 0


def test_unfinished_uploads_expire_and_give_their_quota_back(fresh_stack):
    stack = fresh_stack(extra_config="[uploads]\nresumable_expiry_seconds = 2\n")
    c = Client(stack)
    r = create(c, 8 * MiB)
    location = r.headers["Location"]
    assert patch(c, location, 0, os.urandom(5 * MiB + 100)).status_code == 204  # a part and a staged tail
    done = create(c, 1000)
    assert patch(c, done.headers["Location"], 0, b"z" * 1000).status_code == 204
    assert reserved_bytes(c) == 8 * MiB
    time.sleep(3)
    assert head(c, location).status_code == 404
    report = run_json(stack, "gc")
    expired = {u["id"]: u for u in report["expired_uploads"]}
    assert location.rsplit("/", 1)[1] in expired and done.headers["Location"].rsplit("/", 1)[1] in expired
    assert reserved_bytes(c) == 0
    # The finished upload's file stays; the unfinished one left nothing.
    files = c.get("/api/v1/storage/files").json()["files"]
    assert len(files) == 1 and files[0]["size"] == 1000
    assert [k for k in store_keys(stack, f"organizations/{c.org}/")] == [files[0]["object_key"]]
    s3 = stack.s3()
    assert not s3.list_multipart_uploads(Bucket=stack.bucket, Prefix=f"organizations/{c.org}/").get("Uploads", [])


def test_profile_images_are_sniffed_when_complete(stack):
    c = Client(stack)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    r = create(c, len(png), category="profile_image", filename="me.png")
    assert r.status_code == 201, r.text
    r = patch(c, r.headers["Location"], 0, png)
    assert r.status_code == 204, r.text
    f = c.get("/api/v1/storage/files").json()["files"][0]
    assert f["content_type"] == "image/png" and f["category"] == "profile_image"

    r = create(c, 3000, category="profile_image", filename="fake.png")
    location = r.headers["Location"]
    assert_error(patch(c, location, 0, b"not an image" * 250), 415)
    # The refused upload is gone with its reservation.
    assert head(c, location).status_code == 404
    assert reserved_bytes(c) == 0


def test_admins_list_and_abort_uploads_with_depotctl(stack):
    c = Client(stack)
    r = create(c, 6 * MiB)
    location = r.headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    assert patch(c, location, 0, os.urandom(5 * MiB + 1)).status_code == 204
    listed = {u["id"]: u for u in run_json(stack, "uploads", "list", "--org", c.org)["uploads"]}
    assert listed[upload_id]["offset"] == 5 * MiB + 1 and listed[upload_id]["state"] == "open"
    done = depotctl_run(stack, "uploads", "abort", upload_id)
    assert done.returncode == 0 and "aborted upload" in done.stdout, done.stderr
    assert head(c, location).status_code == 404
    assert reserved_bytes(c) == 0
    assert not store_keys(stack, f"organizations/{c.org}/")
    assert depotctl_run(stack, "uploads", "abort", upload_id).returncode == 1


def test_browser_pages_of_allowed_origins_get_cors_answers(fresh_stack):
    stack = fresh_stack(extra_config="[uploads]\ncors_origins = https://app.example.com\n")
    preflight = requests.options(stack.base_url + UPLOADS, timeout=10, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, tus-resumable, upload-length, upload-metadata"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert all(h in allowed for h in ("authorization", "tus-resumable", "upload-length", "upload-metadata"))
    c = Client(stack)
    r = create(c, 10, headers={"Origin": "https://app.example.com"})
    assert r.status_code == 201 and "Location" in r.headers["Access-Control-Expose-Headers"]
    other = requests.options(stack.base_url + UPLOADS, timeout=10, headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_refusals_nginx_writes_are_readable_by_allowed_pages(fresh_stack):
    # A chunk refused at its admission gets its JSON error from nginx; a page
    # of an allowed origin must be able to read it (else the browser reports
    # a network error and tus clients retry forever). Other origins get none.
    stack = fresh_stack(extra_config="[uploads]\ncors_origins = https://app.example.com\n")
    page = {"Origin": "https://app.example.com"}
    c = Client(stack)
    location = create(c, 10, headers=page).headers["Location"]
    other = Client(stack, org=c.org)
    refusals = {
        "wrong offset": (lambda h: patch(c, location, 4, b"xy", headers=h), 409, "offset_mismatch"),
        "no version": (lambda h: patch(c, location, 0, b"xy", headers=dict(h, **{"Tus-Resumable": "0.2.2"})), 412, "unsupported_tus_version"),
        "chunk type": (lambda h: patch(c, location, 0, b"xy", headers=dict(h, **{"Content-Type": "text/plain"})), 415, None),
        "past the length": (lambda h: patch(c, location, 0, b"x" * 11, headers=h), 413, None),
        "another user": (lambda h: patch(other, location, 0, b"xy", headers=h), 404, None),
        "bad token": (lambda h: requests.patch(location, data=b"xy", timeout=30, headers=dict(
            h, **TUS, **{"Authorization": "Bearer x" + c.token[1:], "Upload-Offset": "0",
                         "Content-Type": "application/offset+octet-stream"})), 401, "unauthorized"),
    }
    for name, (send, status, code) in refusals.items():
        r = send(page)
        assert r.status_code == status, (name, r.status_code, r.text)
        if code:
            assert r.json()["error"]["code"] == code, (name, r.text)
        assert r.headers.get("Access-Control-Allow-Origin") == "https://app.example.com", (name, dict(r.headers))
        assert "Upload-Offset" in r.headers.get("Access-Control-Expose-Headers", ""), (name, dict(r.headers))
        r = send({"Origin": "https://evil.example.com"})
        assert r.status_code == status, (name, r.text)
        assert "Access-Control-Allow-Origin" not in r.headers, (name, dict(r.headers))
    # None of it moved the upload.
    assert head(c, location).headers["Upload-Offset"] == "0"
