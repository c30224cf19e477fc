"""The download path end to end: nginx, the worker's X-Accel-Redirect, the
store behind nginx's internal location; signed links, bearer tokens and
workflow keys; ranges, conditional requests, HEAD, Content-Disposition,
header hygiene, the worker's CPU time, and workflow storage usage."""
import base64
import hashlib
import hmac
import os
import re
import time
import urllib.parse
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import database_oracle
from conftest import Client, assert_error

DOWNLOAD = "/api/v1/objects/download"
MiB = 1 << 20
MID = 16 * MiB  # an offset inside a large file's first part


def part_end(size):
    """Where a streamed upload's first part ends: it holds all the file can
    be by Content-Length (with the form's closing CR LF, read as file until
    the boundary comes) but the last 4 MiB, which go as the second part."""
    return size + 2 - 4 * MiB
SIZES = [1, 5 * MiB, 100 * MiB]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# -- helpers -----------------------------------------------------------------

def master_key(stack):
    with open(stack.path("secrets", "master.keys")) as f:
        _key_id, hex_key = f.readline().split()
    return bytes.fromhex(hex_key)


def hkdf(key, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def sse_key(stack, object_key):
    """The SSE-C key the server derives for an object."""
    return hkdf(master_key(stack), b"depot-sse-c-v1", object_key.encode())


def link_secret(stack):
    """The stack's [encryption] link_secret_file."""
    with open(stack.path("secrets", "link.key")) as f:
        return bytes.fromhex(f.read().strip())


def link_signature(stack, object_key, disposition, expires):
    """What `presigned-url` signs; lets a test make a correctly signed but expired link."""
    secret = link_secret(stack)
    message = f"depot-download-v1\n{object_key}\n{disposition}\n{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def secrets_of(stack, object_keys=()):
    """Strings that must never appear in any response header or error body."""
    out = {stack.secret_key, stack.access_key, master_key(stack).hex(),
           base64.b64encode(hkdf(master_key(stack), b"depot-links-v1", b"")).decode(), link_secret(stack).hex(),
           base64.b64encode(link_secret(stack)).decode()}
    for k in object_keys:
        key = sse_key(stack, k)
        out |= {base64.b64encode(key).decode(), key.hex(), base64.b64encode(hashlib.md5(key).digest()).decode()}
    return out


def assert_clean(stack, response, object_keys=()):
    """No store header, no store name, no key or credential in headers (or in an error body)."""
    secrets = secrets_of(stack, object_keys)
    for name, value in response.raw.headers.items():
        assert not name.lower().startswith("x-amz"), (name, value)
        assert not name.lower().startswith("x-depot"), (name, value)
        assert "seaweed" not in name.lower() and "seaweed" not in value.lower(), (name, value)
        for s in secrets:
            assert s not in value, name
    if response.status_code >= 400:
        for s in secrets:
            assert s not in response.text
        assert "<?xml" not in response.text and "seaweed" not in response.text.lower()


def url(stack, key, **query):
    return stack.base_url + DOWNLOAD + "?" + urllib.parse.urlencode({"objectKey": key, **query})


def fetch(stack, target, method="GET", headers=None, keys=()):
    """A download request with no credentials beyond what `target` and `headers` carry."""
    r = requests.request(method, target, headers=headers or {}, timeout=120)
    assert_clean(stack, r, keys)
    return r


def signed_url(owner, file, **query):
    r = owner.get(f"/api/v1/storage/objects/{file['object_name']}/presigned-url", params=query)
    assert r.status_code == 200, r.text
    return r.json()["url"]


def with_query(target, **changes):
    parts = urllib.parse.urlsplit(target)
    q = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    q.update(changes)
    q = {k: v for k, v in q.items() if v is not None}
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


def workflow_fields(direction="output", **over):
    f = {"workflow_id": str(uuid.uuid4()), "run_id": str(uuid.uuid4()), "direction": direction}
    f.update(over)
    return f


def upload_ok(owner, name, data, content_type="application/octet-stream", **fields):
    r = owner.upload(name, data, content_type=content_type, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def upload_named(owner, filename, data, content_type="application/octet-stream"):
    """Upload with the exact name in `filename*` (RFC 8187), which requests cannot send."""
    boundary = "depot-" + uuid.uuid4().hex
    quoted = urllib.parse.quote(filename.encode("utf-8"), safe="")
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.bin\"; "
            f"filename*=UTF-8''{quoted}\r\nContent-Type: {content_type}\r\n\r\n").encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return owner.post("/api/v1/storage/upload", data=body,
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


KNOWN_HEADERS = {"server", "date", "content-type", "content-length", "connection", "content-disposition",
                 "accept-ranges", "etag", "last-modified", "x-content-type-options", "cache-control", "content-range"}
DISPOSITION = re.compile(r"^(attachment|inline); filename=\"([\x20\x21\x23-\x5b\x5d-\x7e]*)\"; "
                         r"filename\*=UTF-8''((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})+)$")


def parse_disposition(response):
    """The single Content-Disposition header, split into (type, fallback, exact name)."""
    values = response.raw.headers.getlist("Content-Disposition")
    assert len(values) == 1, values
    m = DISPOSITION.match(values[0])
    assert m, values[0]
    return m.group(1), m.group(2), urllib.parse.unquote(m.group(3), encoding="utf-8", errors="strict")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


# -- shared uploads ----------------------------------------------------------

@pytest.fixture(scope="module")
def owner(stack):
    c = Client(stack)
    c.get("/api/v1/storage/quota").raise_for_status()
    return c


@pytest.fixture(scope="module")
def payloads():
    return {size: os.urandom(size) for size in SIZES}


@pytest.fixture(scope="module")
def uploaded(owner, payloads):
    """Lazily uploaded files per (size, kind): kind is `user` or `workflow`."""
    made = {}

    def get(size, kind="user"):
        if (size, kind) not in made:
            fields = workflow_fields(workflow_name="downloads") if kind == "workflow" else {}
            made[size, kind] = upload_ok(owner, f"data-{size}.bin", payloads[size], **fields)
        return made[size, kind]

    return get


@pytest.fixture(scope="module")
def small(owner):
    """A 1 KiB user file of the owner."""
    data = os.urandom(1024)
    return upload_ok(owner, "small.bin", data), data


@pytest.fixture(scope="module")
def stranger(stack):
    """Someone in another organization, with a file of their own."""
    c = Client(stack)
    f = upload_ok(c, "theirs.txt", b"not yours", content_type="text/plain")
    return c, f


# -- grounds -----------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES, ids=["1B", "5MiB", "100MiB"])
@pytest.mark.parametrize("ground", ["signed", "bearer", "workflow"])
def test_download_with_each_ground_returns_the_uploaded_bytes(stack, owner, uploaded, payloads, ground, size):
    # Signed link, owner's token, workflow key: 200 with the exact bytes (100 MiB was a multipart upload).
    f = uploaded(size, "workflow" if ground == "workflow" else "user")
    if ground == "signed":
        r = fetch(stack, signed_url(owner, f), keys=[f["object_key"]])
    elif ground == "bearer":
        r = fetch(stack, url(stack, f["object_key"]), headers=owner.headers, keys=[f["object_key"]])
    else:
        r = fetch(stack, url(stack, f["object_key"]), keys=[f["object_key"]])
    assert r.status_code == 200
    if size > 32 * MiB:  # streamed as an S3 multipart upload: one large part, then the tail
        assert re.fullmatch(r"[0-9a-f]{32}-2", f["etag"]), f["etag"]
    assert int(r.headers["Content-Length"]) == size
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(payloads[size]).hexdigest()
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["ETag"].strip('"') == f["etag"]
    assert r.headers["Accept-Ranges"] == "bytes"
    assert "Last-Modified" in r.headers


def test_one_valid_ground_suffices(stack, owner, small, uploaded):
    # A bad signature does not spoil the owner's token or a workflow key, nor a bad token a good link.
    f, data = small
    wf = uploaded(1, "workflow")
    bad = {"type": "attachment", "expires": str(int(time.time()) + 600), "signature": "A" * 43}
    assert fetch(stack, url(stack, f["object_key"], **bad), headers=owner.headers).content == data
    assert fetch(stack, url(stack, wf["object_key"], **bad)).status_code == 200
    assert fetch(stack, url(stack, wf["object_key"]), headers={"Authorization": "Bearer junk"}).status_code == 200
    assert fetch(stack, signed_url(owner, f), headers={"Authorization": "Bearer junk"}).content == data


def test_signed_link_forged_in_any_part_is_404(stack, owner, small, stranger):
    # Signature, key, type or expiry changed; signature dropped or non-canonical: 404.
    f, _ = small
    good = signed_url(owner, f)
    assert fetch(stack, good).status_code == 200
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(good).query))
    sig = q["signature"]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    # The last of 43 characters carries 2 unused bits: a different character
    # that decodes to the same MAC is still not the signature that was issued.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bits = alphabet[alphabet.index(sig[-1]) ^ 1]
    forged = {
        "flipped signature": with_query(good, signature=flipped),
        "non-canonical signature": with_query(good, signature=sig[:-1] + same_bits),
        "padded signature": with_query(good, signature=sig + "="),
        "standard base64 signature": with_query(good, signature=sig.replace("-", "+").replace("_", "/") + "="),
        "truncated signature": with_query(good, signature=sig[:-2]),
        "empty signature": with_query(good, signature=""),
        "no signature": with_query(good, signature=None),
        "no expiry": with_query(good, expires=None),
        "later expiry": with_query(good, expires=str(int(q["expires"]) + 1)),
        "expiry with a sign": with_query(good, expires="+" + q["expires"]),
        "expiry with a leading zero": with_query(good, expires="0" + q["expires"]),
        "type changed": with_query(good, type="inline"),
        "type dropped on an inline link": with_query(signed_url(owner, f, type="inline"), type=None),
        "other key, same signature": with_query(good, objectKey=stranger[1]["object_key"]),
    }
    for name, target in forged.items():
        r = fetch(stack, target)
        assert r.status_code == 404, (name, r.status_code)
        assert_error(r, 404, "not_found")


def test_signed_link_expired_is_404(stack, owner, small):
    # A link whose expiry has passed (correctly signed, and one issued with expires_in=1): 404.
    f, _ = small
    past = int(time.time()) - 5
    stale = url(stack, f["object_key"], type="attachment", expires=past,
                signature=link_signature(stack, f["object_key"], "attachment", past))
    fresh = url(stack, f["object_key"], type="attachment", expires=past + 3600,
                signature=link_signature(stack, f["object_key"], "attachment", past + 3600))
    issued = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(signed_url(owner, f)).query))
    assert issued["signature"] == link_signature(stack, f["object_key"], "attachment", int(issued["expires"]))  # signs like the server
    assert_error(fetch(stack, stale), 404, "not_found")
    # Correctly signed and unexpired, but never issued (no record of it): 404 too.
    assert_error(fetch(stack, fresh), 404, "not_found")
    short = signed_url(owner, f, expires_in=1)
    time.sleep(2.1)
    assert_error(fetch(stack, short), 404, "not_found")


def test_signed_link_for_someone_elses_file_cannot_be_made(stack, owner, stranger):
    # presigned-url for another organization's key is 404, and its link is not ours to forge.
    other, theirs = stranger
    r = owner.get(f"/api/v1/storage/objects/{theirs['object_name']}/presigned-url")
    assert_error(r, 404, "not_found")
    r = owner.get("/api/v1/storage/objects/" + urllib.parse.quote(theirs["object_key"], safe="") + "/presigned-url")
    assert_error(r, 404, "not_found")
    # Their own link still works for anyone holding it.
    assert fetch(stack, signed_url(other, theirs)).content == b"not yours"


def test_bearer_forged_expired_or_not_the_owner_is_404(stack, owner, small):
    # Wrong signature, expired, a colleague, an admin of the org, another org: 404.
    import jwt
    f, _ = small
    target = url(stack, f["object_key"])
    now = int(time.time())
    forged = jwt.encode({"sub": owner.user, "org": owner.org, "exp": now + 600, "iat": now,
                         "iss": "https://issuer.depot.test", "aud": "depot-api"}, "x" * 64, algorithm="HS256")
    tokens = {
        "forged": forged,
        "expired": stack.token(owner.user, owner.org, ttl=-60),
        "colleague": owner.colleague().token,
        "org admin": owner.colleague(role="admin").token,
        "other org, same user id": stack.token(owner.user, str(uuid.uuid4())),
        "garbage": "not-a-token",
    }
    for name, token in tokens.items():
        r = fetch(stack, target, headers={"Authorization": "Bearer " + token})
        assert r.status_code == 404, (name, r.status_code)
        assert_error(r, 404, "not_found")
    assert fetch(stack, target, headers=owner.headers).status_code == 200


def test_workflow_key_forged_or_pointing_elsewhere_is_404(stack, owner, uploaded):
    # A guessed token, or the real token under another org, workflow, run or direction: 404.
    f = uploaded(1, "workflow")
    key = f["object_key"]
    parts = key.split("/")
    assert len(parts) == 9 and re.fullmatch(r"[0-9a-f]{32}", parts[7]), key
    assert fetch(stack, url(stack, key)).status_code == 200

    def swap(i, value):
        p = list(parts)
        p[i] = value
        return "/".join(p)

    forged = {
        "guessed token": swap(7, os.urandom(16).hex()),
        "one hex digit changed": swap(7, parts[7][:-1] + ("0" if parts[7][-1] != "0" else "1")),
        "uppercase token": swap(7, parts[7].upper()),
        "other organization": swap(1, str(uuid.uuid4())),
        "other workflow": swap(3, str(uuid.uuid4())),
        "other run": swap(5, str(uuid.uuid4())),
        "other direction": swap(6, "input" if parts[6] == "output" else "output"),
        "other name": swap(8, "other.bin"),
        "64-bit token": swap(7, parts[7][:16]),
    }
    for name, k in forged.items():
        r = fetch(stack, url(stack, k))
        assert r.status_code == 404, (name, r.status_code)
        assert_error(r, 404, "not_found")


def test_workflow_key_of_a_deleted_record_is_404(stack, owner):
    # The capability ends with the record: a workflow key whose record is gone is 404.
    f = upload_ok(owner, "gone.bin", b"soon gone", **workflow_fields())
    assert fetch(stack, url(stack, f["object_key"])).status_code == 200
    # A workflow file is deleted by its full key (a bare name never matches one).
    assert owner.delete("/api/v1/storage/objects/" + urllib.parse.quote(f["object_key"], safe="")).status_code == 204
    assert_error(fetch(stack, url(stack, f["object_key"])), 404, "not_found")


def test_user_file_key_alone_is_404(stack, owner, small, stranger):
    # A user-file key without signature or token (own or another org's file), or a made-up key: 404.
    f, _ = small
    for key in (f["object_key"], stranger[1]["object_key"],
                f"organizations/{owner.org}/files/{owner.user}/nothing_20260101_000000_00000000.bin",
                "organizations/../etc/passwd", "no/such/key"):
        for method in ("GET", "HEAD"):
            r = fetch(stack, url(stack, key), method=method)
            assert r.status_code == 404, (key, method)
            if method == "GET":
                assert_error(r, 404, "not_found")
    # Another user's valid token does not unlock it either, nor a signature for another key.
    r = fetch(stack, url(stack, f["object_key"]), headers=stranger[0].headers)
    assert_error(r, 404, "not_found")


def test_missing_object_key_is_400(stack):
    # No objectKey, or an empty one: 400 JSON.
    assert_error(fetch(stack, stack.base_url + DOWNLOAD), 400)
    assert_error(fetch(stack, stack.base_url + DOWNLOAD + "?objectKey="), 400)
    assert_error(fetch(stack, stack.base_url + DOWNLOAD + "?type=inline"), 400)


def test_internal_store_location_is_not_reachable_from_outside(stack, owner, small):
    # /_store/ and its error pages answer only X-Accel-Redirect: a direct request is 404 JSON, never proxied.
    f, _ = small
    forged = {"X-Depot-Store-Path": "/depot/" + f["object_key"],
              "X-Depot-SSE-key": base64.b64encode(sse_key(stack, f["object_key"])).decode()}
    for path in ("/_store/object", "/_store/", "/_store/depot/" + f["object_key"], "/_depot_error/store-412",
                 "/_depot_error/store-416"):
        r = fetch(stack, stack.base_url + path, headers=forged, keys=[f["object_key"]])
        assert_error(r, 404, "not_found")


def test_object_missing_from_the_store_is_json_404(stack, owner):
    # The record exists but the store lost the object: the store's XML becomes JSON 404.
    f = upload_ok(owner, "lost.bin", b"lost bytes")
    stack.s3().delete_object(Bucket=stack.bucket, Key=f["object_key"])
    r = fetch(stack, url(stack, f["object_key"]), headers=owner.headers, keys=[f["object_key"]])
    assert_error(r, 404, "not_found")
    assert "Content-Disposition" not in r.headers
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(stack, url(stack, f["object_key"]), method="HEAD", headers=owner.headers).status_code == 404


# -- ranges, conditional requests, HEAD ------------------------------------------

def test_range_requests_byte_for_byte(stack, owner, uploaded, payloads):
    # First byte, ranges inside the first part and across the part boundary, suffix -100, open-ended tail: 206
    # with exact bytes.
    f = uploaded(100 * MiB)
    data = payloads[100 * MiB]
    n = len(data)
    target = signed_url(owner, f)
    cases = {
        "bytes=0-0": (0, 0),
        f"bytes={MID - 100}-{MID + 99}": (MID - 100, MID + 99),
        f"bytes={part_end(n) - 100}-{part_end(n) + 99}": (part_end(n) - 100, part_end(n) + 99),
        f"bytes={part_end(n) - 1}-{part_end(n)}": (part_end(n) - 1, part_end(n)),
        "bytes=-100": (n - 100, n - 1),
        f"bytes={n - 10}-": (n - 10, n - 1),
        f"bytes={n - 5}-{n + 1000}": (n - 5, n - 1),
    }
    for spec, (first, last) in cases.items():
        r = fetch(stack, target, headers={"Range": spec}, keys=[f["object_key"]])
        assert r.status_code == 206, (spec, r.status_code)
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{n}", spec
        assert int(r.headers["Content-Length"]) == last - first + 1
        assert r.content == data[first:last + 1], spec
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert parse_disposition(r)[0] == "attachment"


def test_unsatisfiable_range_is_416_json(stack, owner, small):
    # A range past the end: 416 JSON with `Content-Range: bytes */N`, and no file name on the error.
    f, data = small
    for target, headers in ((signed_url(owner, f), {}), (url(stack, f["object_key"]), owner.headers)):
        r = fetch(stack, target, headers={**headers, "Range": f"bytes={len(data)}-"}, keys=[f["object_key"]])
        assert_error(r, 416, "range_not_satisfiable")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Disposition" not in r.headers
        assert r.headers["Content-Range"] == f"bytes */{len(data)}"


def test_if_none_match_with_the_etag_is_304(stack, owner, small):
    # The ETag of a 200 gives 304 with no body; another ETag gives the bytes again.
    f, data = small
    target = signed_url(owner, f)
    first = fetch(stack, target)
    etag = first.headers["ETag"]
    r = fetch(stack, target, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["ETag"] == etag
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = fetch(stack, target, headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
    assert r.status_code == 200 and r.content == data
    r = fetch(stack, url(stack, f["object_key"]), headers={**owner.headers, "If-None-Match": etag})
    assert r.status_code == 304


def test_head_gives_headers_only(stack, owner, uploaded, payloads):
    # HEAD on each ground: 200, the GET's headers and Content-Length, no body.
    for kind, extra in (("user", "signed"), ("user", "bearer"), ("workflow", "key")):
        f = uploaded(5 * MiB, kind)
        target = signed_url(owner, f) if extra == "signed" else url(stack, f["object_key"])
        headers = owner.headers if extra == "bearer" else {}
        get = fetch(stack, target, headers=headers)
        head = fetch(stack, target, method="HEAD", headers=headers, keys=[f["object_key"]])
        assert head.status_code == 200, (kind, extra)
        assert head.content == b""
        assert head.headers["Content-Length"] == get.headers["Content-Length"] == str(5 * MiB)
        for h in ("Content-Type", "Content-Disposition", "ETag", "Last-Modified", "Accept-Ranges",
                  "X-Content-Type-Options", "Cache-Control"):
            assert head.headers.get(h) == get.headers.get(h), h


def test_client_cannot_steer_the_store_request(stack, owner, small):
    # Store-specific request headers from the client change nothing and leak nothing.
    f, data = small
    target = signed_url(owner, f)
    odd = {"x-amz-checksum-mode": "ENABLED", "x-amz-request-payer": "requester",
           "X-Forwarded-Host": "evil.example", "x-amz-server-side-encryption-customer-key": "AAAA",
           "Cookie": "session=1", "Authorization": "Bearer nonsense"}
    r = fetch(stack, target, headers=odd, keys=[f["object_key"]])
    assert r.status_code == 200 and r.content == data


# -- Content-Disposition and Content-Type ------------------------------------------

NAMES = {
    "quotes": 'say "hi" to \'them\'.txt',
    "semicolon": "a;b=c; filename=evil.exe.txt",
    "percent": "100% sure %41.txt",
    "backslash-free ascii": "plain name (1).txt",
    "non-ascii": "Résumé – naïve 日本語 😀.pdf",
    "rtl": "تقرير\u202egpj.exe",
    "hebrew": "דוח שנתי.txt",
}


@pytest.mark.parametrize("case", list(NAMES))
def test_content_disposition_is_one_well_formed_header(stack, owner, case):
    # Quotes, `;`, `%`, non-ASCII, RTL override: one header, ASCII fallback, exact filename*.
    name = NAMES[case]
    r = upload_named(owner, name, b"contents")
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["original_filename"] == name
    for target, headers in ((signed_url(owner, f), {}), (url(stack, f["object_key"]), owner.headers)):
        resp = fetch(stack, target, headers=headers)
        assert resp.status_code == 200
        kind, fallback, exact = parse_disposition(resp)
        assert kind == "attachment"
        assert exact == name
        assert fallback.isascii() and not re.search(r"%[0-9A-Fa-f]{2}", fallback)
        assert resp.raw.headers.getlist("Set-Cookie") == []


def test_cr_lf_in_a_name_never_reaches_a_header(stack, owner):
    # A name with CR/LF (sent in filename*) is kept exactly, and encoded in filename*, never emitted raw.
    name = "evil\r\nSet-Cookie: a=b\r\n\r\n<script>\t.txt"
    r = upload_named(owner, name, b"contents", content_type="text/plain")
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["original_filename"] == name
    for target, headers in ((signed_url(owner, f), {}), (url(stack, f["object_key"]), owner.headers),
                            (signed_url(owner, f, type="inline"), {})):
        resp = fetch(stack, target, headers=headers)
        assert resp.status_code == 200 and resp.content == b"contents"
        kind, fallback, exact = parse_disposition(resp)
        assert exact == name
        assert resp.raw.headers.getlist("Set-Cookie") == []
        assert all(n.lower() in KNOWN_HEADERS for n in resp.raw.headers), list(resp.raw.headers)


@pytest.mark.parametrize("name,content_type,data,shown", [
    ("pixel.png", "image/png", PNG, "inline"),
    ("doc.pdf", "application/pdf", b"%PDF-1.4\n", "inline"),
    ("notes.txt", "text/plain", b"hello", "inline"),
    ("page.html", "text/html", b"<script>alert(1)</script>", "attachment"),
    ("logo.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "attachment"),
    ("page.xhtml", "application/xhtml+xml", b"<html/>", "attachment"),
])
def test_inline_only_for_types_that_cannot_run_script(stack, owner, name, content_type, data, shown):
    # type=inline: images (not SVG), PDF, plain text inline; HTML, SVG, XHTML still attachment.
    f = upload_ok(owner, name, data, content_type=content_type)
    for target, headers in ((signed_url(owner, f, type="inline"), {}),
                            (url(stack, f["object_key"], type="inline"), owner.headers)):
        r = fetch(stack, target, headers=headers)
        assert r.status_code == 200 and r.content == data
        assert parse_disposition(r)[:3:2] == (shown, name)
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = fetch(stack, url(stack, f["object_key"]), headers=owner.headers)
    assert parse_disposition(r)[0] == "attachment"


def test_content_type_comes_from_the_record_not_the_store(stack, owner):
    # The record's type wins over what the store holds.
    f = upload_ok(owner, "typed.bin", b"\x00\x01", content_type="application/octet-stream")
    database_oracle.set_content_type(stack, f["object_key"], "text/csv")
    r = fetch(stack, url(stack, f["object_key"]), headers=owner.headers)
    assert r.headers["Content-Type"] == "text/csv"
    r = fetch(stack, url(stack, f["object_key"]), method="HEAD", headers=owner.headers)
    assert r.headers["Content-Type"] == "text/csv"


def test_type_outside_the_list_is_400(stack, owner, small):
    # type=script: 400, not a download.
    f, _ = small
    assert_error(fetch(stack, url(stack, f["object_key"], type="script"), headers=owner.headers), 400)


# -- header hygiene --------------------------------------------------------------

def test_no_store_header_key_or_credential_in_any_response(stack, owner, uploaded, small):
    # Every kind of answer: no x-amz-*, no seaweed, no SSE-C key or store secret (checked in fetch()).
    f = uploaded(100 * MiB)
    wf = uploaded(1, "workflow")
    keys = [f["object_key"], wf["object_key"], small[0]["object_key"]]
    target = signed_url(owner, f)
    responses = [
        fetch(stack, target, keys=keys),
        fetch(stack, target, method="HEAD", keys=keys),
        fetch(stack, target, headers={"Range": f"bytes={part_end(100 * MiB) - 1}-{part_end(100 * MiB)}"}, keys=keys),
        fetch(stack, target, headers={"Range": "bytes=999999999-"}, keys=keys),
        fetch(stack, target, headers={"If-None-Match": f'"{f["etag"]}"'}, keys=keys),
        fetch(stack, target, headers={"If-Match": '"nope"'}, keys=keys),
        fetch(stack, url(stack, wf["object_key"]), keys=keys),
        fetch(stack, url(stack, small[0]["object_key"]), headers=owner.headers, keys=keys),
        fetch(stack, url(stack, small[0]["object_key"]), keys=keys),
    ]
    assert [r.status_code for r in responses] == [200, 200, 206, 416, 304, 412, 200, 200, 404]
    assert_error(responses[5], 412, "precondition_failed")
    for r in responses:
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers.get("Server", "nginx") == "nginx"


def test_download_over_an_https_store(fresh_stack):
    # nginx -> store over TLS with a CA made at run time: every ground, range, HEAD; then store down -> 503 JSON.
    s = fresh_stack(store_tls=True)
    assert s.store_endpoint.startswith("https://")
    c = Client(s)
    data = os.urandom(3 * MiB + 17)
    f = upload_ok(c, "secure.bin", data)
    wf = upload_ok(c, "secure-wf.bin", data, **workflow_fields())
    keys = [f["object_key"], wf["object_key"]]
    link = signed_url(c, f)
    for target, headers in ((link, {}), (url(s, f["object_key"]), c.headers), (url(s, wf["object_key"]), {})):
        r = fetch(s, target, headers=headers, keys=keys)
        assert r.status_code == 200 and r.content == data
    r = fetch(s, link, headers={"Range": "bytes=1000-1999"}, keys=keys)
    assert r.status_code == 206 and r.content == data[1000:2000]
    head = fetch(s, link, method="HEAD", keys=keys)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data)) and head.content == b""
    assert fetch(s, link, headers={"If-None-Match": head.headers["ETag"]}, keys=keys).status_code == 304
    s.stop_store()
    r = fetch(s, link, keys=keys)
    assert_error(r, 503)
    assert "Retry-After" in r.headers


# -- the bytes bypass the worker -------------------------------------------------

def test_worker_cpu_time_does_not_grow_with_downloaded_bytes(stack, owner, uploaded):
    # 200 MiB downloaded (signed link and token): the workers' CPU time rises by far less than 0.5 s.
    f = uploaded(100 * MiB)
    link = signed_url(owner, f)
    for _ in range(3):  # warm up: first requests load code and caches
        fetch(stack, link, headers={"Range": "bytes=0-0"})
    pids = stack.worker_pids()
    assert pids
    before = cpu_seconds(pids)
    received = 0
    for target, headers in ((link, {}), (url(stack, f["object_key"]), owner.headers)):
        with requests.get(target, headers=headers, stream=True, timeout=120) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(1 << 20):
                received += len(chunk)
    after = cpu_seconds(pids)
    assert stack.worker_pids() == pids
    assert received == 200 * MiB
    assert after - before < 0.5, f"workers used {after - before:.2f} s of CPU for 200 MiB"


# -- storage-usage ---------------------------------------------------------------

def test_storage_usage_for_two_workflows_and_two_users(stack):
    # Totals, input/output bytes, breakdown largest first with the latest name; createdBy restricts.
    u1 = Client(stack)
    u2 = u1.colleague()
    boss = u1.colleague(role="admin")
    outsider = Client(stack)
    for c in (u1, u2, boss, outsider):
        c.get("/api/v1/storage/quota").raise_for_status()
    w1, w2 = str(uuid.uuid4()), str(uuid.uuid4())

    def up(c, size, wf, direction, name=None):
        upload_ok(c, "f.bin", b"x" * size, workflow_id=wf, run_id=str(uuid.uuid4()), direction=direction,
                  workflow_name=name)

    up(u1, 1000, w1, "input", "Ingest v1")
    up(u1, 3000, w1, "output", "Ingest v1")
    up(u2, 5000, w2, "output", "Report")
    up(u1, 500, w2, "input")  # no name: the latest name stays
    up(u2, 200, w1, "input", "Ingest v2")  # latest name wins
    upload_ok(u1, "plain.bin", b"y" * 64)  # a user file counts in the totals only
    up(outsider, 7777, w1, "output", "Not theirs")  # another organization, same workflow id

    body = u1.get("/api/v1/objects/storage-usage").json()
    assert body == {"orgKey": u1.org, "totalBytes": 9764, "inputBytes": 1700, "outputBytes": 8000, "fileCount": 6,
                    "breakdown": [{"workflowId": w2, "workflowName": "Report", "bytes": 5500, "fileCount": 2},
                                  {"workflowId": w1, "workflowName": "Ingest v2", "bytes": 4200, "fileCount": 3}],
                    "breakdownTruncated": False}
    assert boss.get("/api/v1/objects/storage-usage").json() == body

    mine = boss.get("/api/v1/objects/storage-usage", params={"createdBy": u1.user}).json()
    assert mine == {"orgKey": u1.org, "totalBytes": 4564, "inputBytes": 1500, "outputBytes": 3000, "fileCount": 4,
                    "breakdown": [{"workflowId": w1, "workflowName": "Ingest v2", "bytes": 4000, "fileCount": 2},
                                  {"workflowId": w2, "workflowName": "Report", "bytes": 500, "fileCount": 1}],
                    "breakdownTruncated": False}
    theirs = boss.get("/api/v1/objects/storage-usage", params={"createdBy": u2.user.upper()}).json()
    assert theirs == {"orgKey": u1.org, "totalBytes": 5200, "inputBytes": 200, "outputBytes": 5000, "fileCount": 2,
                      "breakdown": [{"workflowId": w2, "workflowName": "Report", "bytes": 5000, "fileCount": 1},
                                    {"workflowId": w1, "workflowName": "Ingest v2", "bytes": 200, "fileCount": 1}],
                      "breakdownTruncated": False}
    # A user of another organization: nothing of theirs is visible here.
    nobody = boss.get("/api/v1/objects/storage-usage", params={"createdBy": outsider.user}).json()
    assert nobody == {"orgKey": u1.org, "totalBytes": 0, "inputBytes": 0, "outputBytes": 0, "fileCount": 0,
                      "breakdown": [], "breakdownTruncated": False}
    other = outsider.get("/api/v1/objects/storage-usage").json()
    assert other["breakdown"] == [{"workflowId": w1, "workflowName": "Not theirs", "bytes": 7777, "fileCount": 1}]


def test_storage_usage_created_by_needs_admin_and_a_uuid(stack):
    # createdBy: 403 for a member (even about themselves), 400 for a non-UUID, 401 without a token.
    member = Client(stack)
    boss = member.colleague(role="admin")
    assert_error(member.get("/api/v1/objects/storage-usage", params={"createdBy": member.user}), 403, "forbidden")
    assert_error(member.get("/api/v1/objects/storage-usage", params={"createdBy": str(uuid.uuid4())}), 403, "forbidden")
    for bad in ("alice", "", "1234", member.user + "0", "../" + member.user):
        assert_error(boss.get("/api/v1/objects/storage-usage", params={"createdBy": bad}), 400)
    r = requests.get(stack.base_url + "/api/v1/objects/storage-usage", params={"createdBy": member.user}, timeout=30)
    assert_error(r, 401, "unauthorized")
