"""Uploads judged before their body, on their own pool, streamed to the store.

Through real nginx, workers, SQLite and SeaweedFS, over raw sockets where
the order of bytes matters: a refusal must arrive before the client has sent
any body (with `Expect: 100-continue` instead of `100 Continue`), a refused
or abandoned body must leave nothing (no nginx temp file, no record, no
reservation, no store object or multipart upload), a full upload pool
answers JSON at once, and the API pool keeps answering while uploads hold
the upload pool.
"""
import hashlib
import json
import os
import signal
import socket
import time
import uuid

import pytest

from conftest import Client, assert_error, set_plan, store_keys
from depotctl_cli import file_records, reservations

UPLOAD = "/api/v1/storage/upload"
MiB = 1 << 20


class Envelope:
    """A multipart form with one file part, whose bytes are sent separately."""

    def __init__(self, size, filename="streamed.bin"):
        self.boundary = "depot" + uuid.uuid4().hex
        self.prefix = (f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                       f"Content-Type: application/octet-stream\r\n\r\n").encode()
        self.suffix = f"\r\n--{self.boundary}--\r\n".encode()
        self.size = size

    def add_after_file(self, *parts):
        """Parts that follow the file's: (name, value bytes[, filename])."""
        def part(name, value, filename=None):
            disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
            return f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
        self.suffix = b"\r\n" + b"".join(part(*p) for p in parts) + f"--{self.boundary}--\r\n".encode()

    @property
    def content_length(self):
        return len(self.prefix) + self.size + len(self.suffix)


def open_upload(stack, token, envelope, expect=False, timeout=30):
    """Connects and sends an upload's request head only; returns the socket."""
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=timeout)
    head = [f"POST {UPLOAD} HTTP/1.1", f"Host: 127.0.0.1:{stack.port}", "Connection: close",
            f"Content-Type: multipart/form-data; boundary={envelope.boundary}",
            f"Content-Length: {envelope.content_length}"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if expect:
        head.append("Expect: 100-continue")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    return sock


def read_answer(sock, timeout=30):
    """Reads one HTTP answer head (+ Content-Length body); returns (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def assert_json_error(status, headers, body, expected_status, code):
    assert status == expected_status, (status, body)
    assert headers["content-type"].startswith("application/json"), headers
    doc = json.loads(body)
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message", "request_id"}, doc
    assert doc["error"]["code"] == code, doc
    return doc["error"]


def nginx_temp_files(stack):
    found = []
    for root, _, files in os.walk(stack.path("nginx", "client_body")):
        found += [os.path.join(root, f) for f in files]
    return found


def multipart_uploads(stack):
    page = stack.s3().list_multipart_uploads(Bucket=stack.bucket)
    return page.get("Uploads", [])


def wait_until(condition, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def assert_nothing_left(stack, org):
    """No record, no reservation, no store object, no multipart upload for `org`."""
    wait_until(lambda: not reservations(stack, org), what="the reservation to be released")
    assert file_records(stack, org) == []
    assert store_keys(stack, f"organizations/{org}/") == set()
    wait_until(lambda: not [u for u in multipart_uploads(stack) if org in u["Key"]],
               what="the multipart upload to be aborted")


def assert_stored(stack, client, status, body, data):
    """The upload answered 201 for exactly `data`, holds no reservation, and
    downloads back byte for byte."""
    assert status == 201, body
    f = json.loads(body)
    assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert reservations(stack, client.org) == []
    d = client.get("/api/v1/objects/download", params={"objectKey": f["object_key"]})
    assert d.status_code == 200 and d.content == data


# -- refusals from the headers ---------------------------------------------------

# The headers tell the body's length, not the file's: a body is refused once
# it is longer than the limit plus 1 MiB for the multipart envelope (form
# fields, part headers); a file between the two is refused after its body.
REFUSALS = [
    # label, who, declared file size, status, code
    ("no token", "anonymous", 1 * MiB, 401, "unauthorized"),
    ("larger than the plan's largest file", "tiny", 2 * MiB, 413, "file_too_large"),
    ("larger than the free quota", "tiny-full", 1200 << 10, 413, "quota_exceeded"),
    ("1 GiB with no token", "anonymous", 1 << 30, 401, "unauthorized"),
    ("5 GiB over an individual's 100 MiB limit", "individual", 5 << 30, 413, "file_too_large"),
]


@pytest.fixture(scope="module")
def refusal_clients(stack):
    tiny = Client(stack)
    tiny.get("/api/v1/storage/quota").raise_for_status()
    set_plan(stack, tiny.org, "tiny")  # 1 MiB quota, 512 KiB per file
    full = Client(stack)
    full.get("/api/v1/storage/quota").raise_for_status()
    set_plan(stack, full.org, "tiny")
    for i in range(2):  # 124 KiB left
        assert full.upload(f"filler{i}.bin", os.urandom(450 << 10)).status_code == 201
    individual = Client(stack, acct="individual")
    individual.get("/api/v1/storage/quota").raise_for_status()
    return {"anonymous": None, "tiny": tiny, "tiny-full": full, "individual": individual}


@pytest.mark.parametrize("expect", [True, False], ids=["expect-100-continue", "no-expect"])
@pytest.mark.parametrize("label,who,size,status,code", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_upload_is_refused_before_its_body(stack, refusal_clients, expect, label, who, size, status, code):
    # Only the request head is sent: the refusal must come without a byte of
    # the body (nginx would otherwise wait for it), and a client that asked
    # `Expect: 100-continue` gets the refusal as the first answer, never 100.
    client = refusal_clients[who]
    envelope = Envelope(size)
    sock = open_upload(stack, client.token if client else None, envelope, expect=expect)
    try:
        answer_status, headers, body = read_answer(sock, timeout=15)
    finally:
        sock.close()
    error = assert_json_error(answer_status, headers, body, status, code)
    if status == 401:
        assert headers.get("www-authenticate", "").startswith("Bearer"), headers
    assert error["request_id"]
    assert nginx_temp_files(stack) == []
    if client:
        assert reservations(stack, client.org) == []


def test_refusal_reports_the_limit_and_nothing_is_kept(stack, refusal_clients):
    # The refusal names the plan's limit, like the worker's own refusal after
    # the body; the client's files and usage are untouched.
    full = refusal_clients["tiny-full"]
    before = full.get("/api/v1/storage/usage").json()
    sock = open_upload(stack, full.token, Envelope(2 * MiB), expect=True)
    try:
        status, headers, body = read_answer(sock)
    finally:
        sock.close()
    error = assert_json_error(status, headers, body, 413, "file_too_large")
    assert "524288" in error["message"], error
    assert full.get("/api/v1/storage/usage").json() == before


def test_expect_100_continue_upload_that_fits_is_stored(stack):
    # The admitted client gets `100 Continue`, sends the body, gets 201.
    client = Client(stack)
    data = os.urandom(3 * MiB + 17)
    envelope = Envelope(len(data))
    sock = open_upload(stack, client.token, envelope, expect=True)
    try:
        status, _, _ = read_answer(sock)
        assert status == 100
        sock.sendall(envelope.prefix + data + envelope.suffix)
        status, _, body = read_answer(sock, timeout=60)
    finally:
        sock.close()
    assert_stored(stack, client, status, body, data)


def send_upload(stack, client, envelope, data, after_each_chunk=lambda: None):
    """Sends the envelope around `data`, 4 MiB at a time, and returns the answer."""
    sock = open_upload(stack, client.token, envelope)
    try:
        sock.sendall(envelope.prefix)
        for offset in range(0, len(data), 4 * MiB):
            sock.sendall(data[offset:offset + 4 * MiB])
            after_each_chunk()
        sock.sendall(envelope.suffix)
        return read_answer(sock, timeout=120)
    finally:
        sock.close()


def test_large_upload_streams_without_a_temp_file_and_is_byte_exact(stack):
    # 40 MiB (above the 32 MiB multipart threshold): sent in parts while it
    # arrives; nginx keeps no copy; the download is byte for byte.
    client = Client(stack)
    data = os.urandom(40 * MiB + 5)

    def no_temp_file():
        assert nginx_temp_files(stack) == []
    status, _, body = send_upload(stack, client, Envelope(len(data)), data, after_each_chunk=no_temp_file)
    assert_stored(stack, client, status, body, data)


def test_large_upload_with_fields_after_the_file_is_stored(stack):
    # The file streams out while it arrives (all but the form's last 4 MiB
    # in one part); fields after it, within the form's limits, still count.
    client = Client(stack)
    data = os.urandom(40 * MiB + 3)
    envelope = Envelope(len(data))
    envelope.add_after_file(("category", b"data_source"), ("note", b"n" * 60000))
    status, _, body = send_upload(stack, client, envelope, data)
    assert_stored(stack, client, status, body, data)
    assert json.loads(body)["category"] == "data_source"


def test_more_than_4_mib_of_form_after_a_large_file_is_refused_and_leaves_nothing(stack):
    # A second file part of 5 MiB after the streamed file: the part passed
    # through to the store is cut short, so the form is refused (400 JSON)
    # and nothing stays: no record, reservation, object or multipart upload.
    client = Client(stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    envelope = Envelope(40 * MiB)
    envelope.add_after_file(("other", os.urandom(5 * MiB), "other.bin"))
    status, headers, body = send_upload(stack, client, envelope, os.urandom(40 * MiB))
    assert_json_error(status, headers, body, 400, "malformed_multipart")
    assert "follows the file part" in json.loads(body)["error"]["message"]
    assert_nothing_left(stack, client.org)


@pytest.mark.parametrize("size", [2 * MiB, 40 * MiB], ids=["held-in-memory", "streamed"])
def test_upload_under_way_during_a_reload_is_stored_whole(fresh_stack, size):
    # A reload drains the old workers: the one reading this upload's body
    # finishes it (its reads are not interrupted by the SIGTERM) and the
    # file is stored byte for byte.
    stack = fresh_stack(upload_workers=1)
    client = Client(stack)
    data = os.urandom(size)
    envelope = Envelope(len(data))
    sock = open_upload(stack, client.token, envelope)
    try:
        sock.sendall(envelope.prefix + data[:size // 2])
        time.sleep(0.5)
        stack.processes["depot"].send_signal(signal.SIGHUP)
        time.sleep(1.0)
        sock.sendall(data[size // 2:] + envelope.suffix)
        status, _, body = read_answer(sock, timeout=120)
    finally:
        sock.close()
    assert_stored(stack, client, status, body, data)


# -- clients that give up half-way -------------------------------------------------

# 40 MiB cut off at 36: past the 32 MiB threshold, so reserved and partly
# sent to the store as parts; 2 MiB cut off at 1: still in the worker's memory.
@pytest.mark.parametrize("size,sent", [(40 * MiB, 36 * MiB), (2 * MiB, 1 * MiB)],
                         ids=["streamed-in-parts", "held-in-memory"])
def test_client_that_disconnects_half_way_leaves_nothing(stack, size, sent):
    client = Client(stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    envelope = Envelope(size)
    sock = open_upload(stack, client.token, envelope)
    try:
        sock.sendall(envelope.prefix + os.urandom(sent))
        if size > 32 * MiB:
            # The reservation is taken (the upload is under way) before it dies.
            wait_until(lambda: reservations(stack, client.org), what="the upload's reservation")
    finally:
        sock.close()
    assert_nothing_left(stack, client.org)
    assert nginx_temp_files(stack) == []
    usage = client.get("/api/v1/storage/usage").json()
    assert usage["used_bytes"] == 0 and usage["reserved_bytes"] == 0 and usage["file_count"] == 0
    # The pool is not stuck: the next upload goes through.
    assert client.upload("after.bin", b"after").status_code == 201


def test_body_shorter_than_its_content_length_leaves_nothing(stack):
    # The client stops sending and waits: nginx's client_body_timeout cuts it
    # off; until then the upload holds one upload worker, never an API worker.
    client = Client(stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    envelope = Envelope(36 * MiB)
    sock = open_upload(stack, client.token, envelope)
    try:
        sock.sendall(envelope.prefix + os.urandom(MiB))
        t0 = time.time()
        r = client.get("/api/v1/storage/quota")
        assert r.status_code == 200
        assert time.time() - t0 < 10
    finally:
        sock.close()
    assert_nothing_left(stack, client.org)


# -- the upload pool is bounded ----------------------------------------------------

def test_full_upload_pool_answers_429_json_and_the_api_pool_keeps_answering(fresh_stack):
    # One upload slot: a second upload while the first is under way is a 429
    # JSON error at once (not a hang); short requests are answered meanwhile;
    # once the first upload is done, uploads are accepted again.
    stack = fresh_stack(upload_workers=1, upload_slots=1)
    client = Client(stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    data = os.urandom(2 * MiB)
    envelope = Envelope(len(data))
    first = open_upload(stack, client.token, envelope)
    try:
        first.sendall(envelope.prefix + data[:MiB])
        time.sleep(0.3)
        r = client.upload("second.bin", b"second")
        assert_error(r, 429, "too_many_uploads")
        assert r.headers.get("Retry-After")
        assert client.get("/api/v1/storage/quota").status_code == 200
        assert client.get("/api/v1/storage/files").status_code == 200
        first.sendall(data[MiB:] + envelope.suffix)
        status, _, body = read_answer(first, timeout=60)
        assert status == 201, body
    finally:
        first.close()
    # nginx frees the slot as it finishes the first request, a moment after
    # its answer went out.
    deadline = time.time() + 5
    while (r := client.upload("third.bin", b"third")).status_code == 429 and time.time() < deadline:
        time.sleep(0.05)
    assert r.status_code == 201, r.text


def test_uploads_beyond_the_workers_wait_for_one(fresh_stack):
    # Two slots, one upload worker: the second upload waits for the worker
    # (it is not refused), and both are stored.
    stack = fresh_stack(upload_workers=1, upload_slots=2)
    client = Client(stack)
    data = [os.urandom(MiB + i) for i in range(2)]
    envelopes = [Envelope(len(d)) for d in data]
    socks = [open_upload(stack, client.token, e) for e in envelopes]
    try:
        for s, e, d in zip(socks, envelopes, data):
            s.sendall(e.prefix + d + e.suffix)
        answers = [read_answer(s, timeout=60) for s in socks]
    finally:
        for s in socks:
            s.close()
    assert [a[0] for a in answers] == [201, 201], answers
    assert sorted(json.loads(a[2])["size"] for a in answers) == sorted(len(d) for d in data)


def test_upload_while_the_workers_are_down_is_503_json(fresh_stack):
    # No worker to ask for admission (depot stopped, or the API worker killed
    # mid-question): the upload is unavailable (503, Retry-After), not a 500.
    stack = fresh_stack()
    client = Client(stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    stack.stop_depot()
    for expect in (False, True):
        sock = open_upload(stack, client.token, Envelope(MiB), expect=expect)
        try:
            status, headers, body = read_answer(sock)
        finally:
            sock.close()
        assert_json_error(status, headers, body, 503, "service_unavailable")
        assert headers.get("retry-after")
    # Other routes: nginx's own 502 page, the same JSON error.
    r = client.get("/api/v1/storage/quota")
    assert_error(r, 502, "service_unavailable")
