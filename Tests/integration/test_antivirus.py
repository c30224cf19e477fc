"""Malware scanning with a real clamd (scripts/clamd_server.py: a signature
database made at start that detects the EICAR test string) behind real
nginx, workers, SeaweedFS and SQLite/PostgreSQL: EICAR is refused with 422
on POST /upload, a signed upload link and a tus upload, and leaves nothing
behind (no record, no store object, no usage, no reservation); a clean file
passes; with clamd stopped uploads fail closed with 503, or are stored when
the configuration says fail_open.
"""
import os
import re
import time

import pytest
import requests

from clamd_server import EICAR
from conftest import Client, assert_error, drop_stack_database, make_stack, store_keys
from depotctl_cli import file_records, reservations
from test_events import FAST_RETRIES, Receiver, of_type, verify
from test_resumable_uploads import create, head, patch

MiB = 1 << 20


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def av_stack(tmp_root, postgres_server, receiver):
    """A stack whose uploads are scanned by its own clamd (failing closed),
    sending its events to a receiver on loopback."""
    s = make_stack(tmp_root, "antivirus", postgres_server, workers=2, antivirus=True,
                   webhooks={"default": receiver.url}, events=FAST_RETRIES)
    s.test_receiver = receiver
    s.start()
    yield s
    s.stop()
    drop_stack_database(s, postgres_server)


@pytest.fixture
def av_client(av_stack):
    c = Client(av_stack)
    c.get("/api/v1/storage/quota").raise_for_status()
    return c


def metric(stack, name):
    text = requests.get(stack.base_url + "/metrics", timeout=30).text
    match = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(match.group(1)) if match else None


def assert_nothing_left(stack, client):
    """No record, no object (nor staged part), no usage, no reservation."""
    assert client.get("/api/v1/storage/files").json()["files"] == []
    usage = client.get("/api/v1/storage/usage").json()
    assert (usage["used_bytes"], usage["reserved_bytes"], usage["file_count"]) == (0, 0, 0), usage
    assert file_records(stack, client.org) == []
    assert reservations(stack, client.org) == []
    assert store_keys(stack, f"organizations/{client.org}/") == set()
    uploads = stack.s3().list_multipart_uploads(Bucket=stack.bucket, Prefix=f"organizations/{client.org}/")
    assert uploads.get("Uploads", []) == []


def test_eicar_is_refused_on_post_upload(av_stack, av_client):
    infected = metric(av_stack, "depot_antivirus_infected_total")
    r = av_client.upload("eicar.com", EICAR)
    error = assert_error(r, 422, "malware_detected")
    assert "Depot.Test.EICAR" in error["message"]
    assert_nothing_left(av_stack, av_client)
    assert metric(av_stack, "depot_antivirus_infected_total") == infected + 1
    # The refusal fires file.rejected, signed like every event.
    got = receiver_wait(av_stack, av_client, "upload")
    data = got["event"]["data"]
    assert (data["original_filename"], data["reason"], data["size"]) == ("eicar.com", "malware_detected", len(EICAR))
    assert "Depot.Test.EICAR" in data["signature"]


def receiver_wait(stack, client, route):
    """The file.rejected event of `client`'s upload by `route`, verified."""
    receiver = stack.test_receiver
    receiver.wait_for(of_type("file.rejected", user_id=client.user, route=route), what="file.rejected")
    record = [r for r in receiver.events(user_id=client.user, route=route) if r["event"]["type"] == "file.rejected"][0]
    assert verify(record, stack.webhook_secret())
    return record


def test_a_clean_file_passes_and_is_counted(av_stack, av_client):
    scanned = metric(av_stack, "depot_antivirus_files_scanned_total")
    r = av_client.upload("notes.txt", b"nothing to see here\n", content_type="text/plain")
    assert r.status_code == 201, r.text
    assert [f["id"] for f in av_client.get("/api/v1/storage/files").json()["files"]] == [r.json()["id"]]
    assert metric(av_stack, "depot_antivirus_files_scanned_total") == scanned + 1


def test_a_large_streamed_file_carrying_eicar_is_refused(av_stack, av_client):
    # Above the multipart threshold: the file streams to the store in parts
    # while clamd reads it; the verdict comes before the upload is completed.
    data = os.urandom(40 * MiB) + EICAR
    assert_error(av_client.upload("big.bin", data), 422, "malware_detected")
    assert_nothing_left(av_stack, av_client)


def test_eicar_is_refused_through_a_signed_upload_link(av_stack, av_client):
    link = av_client.post("/api/v1/storage/upload-urls", json={"expires_in": 600}).json()
    r = requests.post(link["url"], files={"file": ("eicar.txt", EICAR, "text/plain")}, timeout=60)
    assert_error(r, 422, "malware_detected")
    assert_nothing_left(av_stack, av_client)
    receiver_wait(av_stack, av_client, "upload_link")
    # The link was not spent by the refused file.
    r = requests.post(link["url"], files={"file": ("fine.txt", b"fine", "text/plain")}, timeout=60)
    assert r.status_code == 201, r.text


def test_eicar_is_refused_as_a_tus_upload(av_stack, av_client):
    created = create(av_client, len(EICAR), filename="eicar.com")
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    half = len(EICAR) // 2
    assert patch(av_client, location, 0, EICAR[:half]).status_code == 204
    r = patch(av_client, location, half, EICAR[half:])
    assert_error(r, 422, "malware_detected")
    receiver_wait(av_stack, av_client, "resumable")
    assert head(av_client, location).status_code == 404
    assert_nothing_left(av_stack, av_client)


def test_a_clean_tus_upload_becomes_a_file(av_stack, av_client):
    data = os.urandom(300_000)
    created = create(av_client, len(data), filename="clean.bin")
    r = patch(av_client, created.headers["Location"], 0, data)
    assert r.status_code == 204, r.text
    assert r.headers.get("Depot-File-Id")


def test_clamd_down_fails_closed(av_stack, av_client):
    errors = metric(av_stack, "depot_antivirus_errors_total")
    av_stack.stop_antivirus()
    try:
        health = requests.get(av_stack.base_url + "/api/v1/health", timeout=30)
        assert health.status_code == 503 and health.json()["antivirus"] == "error", health.text
        r = av_client.upload("notes.txt", b"clean, but who can tell\n", content_type="text/plain")
        assert_error(r, 503, "scanner_unavailable")
        assert int(r.headers["Retry-After"]) > 0
        assert_nothing_left(av_stack, av_client)
        assert metric(av_stack, "depot_antivirus_errors_total") == errors + 1
    finally:
        av_stack.start_antivirus()
    health = requests.get(av_stack.base_url + "/api/v1/health", timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok", "store": "ok", "antivirus": "ok"}
    r = av_client.upload("notes.txt", b"clean, and now scanned\n", content_type="text/plain")
    assert r.status_code == 201, r.text


def test_clamd_down_lets_files_through_with_fail_open(fresh_stack):
    s = fresh_stack(antivirus=True, antivirus_fail_open=True)
    client = Client(s)
    s.stop_antivirus()
    health = requests.get(s.base_url + "/api/v1/health", timeout=30)
    assert health.status_code == 200 and health.json()["antivirus"] == "error", health.text
    r = client.upload("notes.txt", b"stored unscanned\n", content_type="text/plain")
    assert r.status_code == 201, r.text
    assert metric(s, "depot_antivirus_let_through_total") == 1
    assert metric(s, "depot_antivirus_errors_total") == 1


def test_a_file_above_clamds_stream_limit_is_refused_not_passed(av_stack, av_client):
    # clamd's StreamMaxLength below Depot's stream_max_length: clamd cuts the
    # stream off mid-file; the upload is refused as too large to scan, never stored unscanned.
    clamd = av_stack.clamd
    clamd.stop()
    clamd.stream_max_length = "1M"
    clamd.start()
    try:
        # The refusal comes while the client is still sending: its JSON 413
        # usually arrives, but a client still writing may see the connection
        # reset instead (as with any early answer). Either way nothing is stored.
        try:
            r = av_client.upload("big.bin", os.urandom(3 * MiB))
        except requests.exceptions.ConnectionError:
            r = None
        if r is not None:
            assert_error(r, 413, "file_too_large_to_scan")
        # A client cut off early may ask before the worker has finished
        # giving everything back: allow it a few seconds.
        deadline = time.time() + 10
        while True:
            try:
                assert_nothing_left(av_stack, av_client)
                break
            except AssertionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        clamd.stop()
        clamd.stream_max_length = "200M"
        clamd.start()
