"""Hostile input against the real stack: a table-driven corpus, each case with
the status (or statuses) it must get.

Every answer is checked the same way (`check`): never a 5xx, never a hang
(every request has a timeout), errors are the contract's JSON with no stack
trace, SQL or server path in them, and nothing of another user's file (its
bytes, record id, hash or name) ever comes back. Requests whose exact bytes
matter (paths with `..`, `%00`, backslashes, raw CR/LF, duplicated headers,
broken multipart) go over a raw socket, because `requests` would normalize
them.

Groups: object names and keys (traversal, encodings, overlong), oversized
requests, multipart, query parameters on every route, workflow fields, JWT
forgeries, signed links, header injection through file names, slow clients
(a trickled body, a head that never ends, stalled uploads by the hundred)
while the API pool keeps answering.

Knobs for `make reliability`: DEPOT_HOSTILE_TIMEOUT (seconds per request,
default 30).
"""
import base64
import gzip
import hashlib
import hmac
import json
import os
import re
import socket
import time
import urllib.parse
import uuid

import jwt
import pytest
import requests

from conftest import AUDIENCE, ISSUER, Client, Keys
from depotctl_cli import reservations

TIMEOUT = float(os.environ.get("DEPOT_HOSTILE_TIMEOUT", "30"))
UPLOAD = "/api/v1/storage/upload"
DOWNLOAD = "/api/v1/objects/download"

# Strings no answer may carry (beyond the other user's data): internals.
LEAKS = [b"Traceback", b"Fatal error", b".swift:", b"SQLITE_", b"sqlite3", b"SELECT ", b"INSERT ",
         b"postgresql://", b"libpq", b"SQLSTATE", b"ERROR:  ", b"FATAL:  ",
         b"x-amz-", b"X-Amz-", b"Seaweed", b"X-Depot-", b"X-Accel", b"/_store/"]
# Headers a download (or any answer) may carry.
KNOWN_HEADERS = {"server", "date", "content-type", "content-length", "connection", "content-disposition",
                 "accept-ranges", "etag", "last-modified", "x-content-type-options", "cache-control",
                 "content-range", "www-authenticate", "allow", "retry-after", "location", "referrer-policy",
                 "transfer-encoding", "x-frame-options", "content-security-policy", "vary"}


# -- raw HTTP ------------------------------------------------------------------

class RawResponse:
    def __init__(self, status, headers, body, head):
        self.status_code = status
        self.header_list = headers  # [(name, value)] as received, in order
        self.content = body
        self.head = head  # the raw header block

    def headers(self, name):
        return [v for n, v in self.header_list if n.lower() == name.lower()]

    def header(self, name):
        values = self.headers(name)
        return values[0] if values else None

    def json(self):
        return json.loads(self.content)

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def __repr__(self):
        return f"<{self.status_code} {self.content[:300]!r}>"


def _bytes(x):
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def _dechunk(body):
    out, rest = b"", body
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2:]
    return out


def raw(stack, method, target, headers=(), body=b"", timeout=TIMEOUT, content_length=True):
    """Sends exactly these bytes (target and headers unnormalized) and reads the
    whole answer (`Connection: close`). A hang fails the test via the timeout."""
    deadline = time.time() + timeout
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=timeout)
    try:
        lines = [_bytes(method) + b" " + _bytes(target) + b" HTTP/1.1", b"Connection: close"]
        if not any(_bytes(k).lower() == b"host" for k, _ in headers):
            lines.append(b"Host: 127.0.0.1:%d" % stack.port)
        lines += [_bytes(k) + b": " + _bytes(v) for k, v in headers]
        body = _bytes(body)
        if content_length and (body or method in ("POST", "PUT")):
            lines.append(b"Content-Length: %d" % len(body))
        try:
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. 413) and closed; read that answer
        data = b""
        while True:
            if time.time() > deadline:
                raise AssertionError(f"no complete answer within {timeout}s: {method} {target!r:.200}")
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    assert data, f"connection closed without an answer: {method} {_bytes(target)[:200]!r}"
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    status = int(status_line.split(b" ")[1])
    parsed = []
    for line in header_lines:
        assert b":" in line and not line[:1].isspace(), f"malformed response header line {line!r}"
        name, _, value = line.partition(b":")
        parsed.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    if any(n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in parsed):
        payload = _dechunk(payload)
    return RawResponse(status, parsed, payload, head)


def multipart(parts, boundary=None, preamble=b"", epilogue=b"\r\n"):
    """Body from [(header lines, data)]; returns (content type, body)."""
    boundary = boundary or "hx" + uuid.uuid4().hex
    b = _bytes(boundary)
    out = _bytes(preamble)
    for i, (hdrs, data) in enumerate(parts):
        if i or preamble:
            out += b"\r\n"
        out += b"--" + b + b"\r\n" + b"".join(_bytes(h) + b"\r\n" for h in hdrs) + b"\r\n" + _bytes(data)
    out += b"\r\n--" + b + b"--" + _bytes(epilogue)
    return f"multipart/form-data; boundary={boundary}", out


def file_part(data=b"hostile contents", filename="h.txt", name="file", ctype="text/plain"):
    return ([f'Content-Disposition: form-data; name="{name}"; filename="{filename}"', f"Content-Type: {ctype}"], data)


def field(name, value):
    return ([f'Content-Disposition: form-data; name="{name}"'], value)


# -- the check every answer goes through -----------------------------------------

def status_of(r):
    return r.status_code


def check(r, expected, code=None, forbid=(), stack=None, method="GET"):
    """`expected`: one status or a set. Never 5xx; errors are JSON with the contract's shape."""
    expected = {expected} if isinstance(expected, int) else set(expected)
    status = status_of(r)
    body = r.content
    assert status < 500, f"server error {status}: {body[:500]!r}"
    assert status in expected, f"got {status}, expected {sorted(expected)}: {body[:500]!r}"
    header_items = r.header_list if isinstance(r, RawResponse) else list(r.raw.headers.items())
    content_type = next((v for n, v in header_items if n.lower() == "content-type"), "")
    if status >= 400 and method != "HEAD":
        assert content_type.startswith("application/json"), (status, content_type, body[:300])
        doc = json.loads(body)
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message", "request_id"}, doc
        assert re.fullmatch(r"[a-z][a-z0-9_]*", doc["error"]["code"]), doc
        if code:
            assert doc["error"]["code"] == code, doc
    if status == 401:
        assert any(n.lower() == "www-authenticate" and v.startswith("Bearer") for n, v in header_items), header_items
    blob = body + b"\n".join(_bytes(n) + b": " + _bytes(v) for n, v in header_items)
    for leak in LEAKS + [_bytes(f) for f in forbid]:
        assert leak not in blob, f"answer carries {leak!r}: {blob[:500]!r}"
    if stack is not None:
        assert _bytes(stack.run_dir) not in blob, "answer carries a server path"
    return r


# -- the cast --------------------------------------------------------------------

class Ctx:
    """A victim with files, a colleague in the same organization, an outsider."""


@pytest.fixture(scope="module")
def ctx(stack):
    c = Ctx()
    c.stack = stack
    c.victim = Client(stack)
    c.colleague = c.victim.colleague()
    c.attacker = Client(stack)
    marker = b"VICTIM-SECRET-" + uuid.uuid4().hex.encode()
    c.secret_name = "victim-private-" + uuid.uuid4().hex[:12] + ".txt"
    c.files = []
    for i in range(2):
        r = c.victim.upload(c.secret_name if i == 0 else "second-" + c.secret_name, marker + b"-%d" % i,
                            content_type="text/plain")
        assert r.status_code == 201, r.text
        c.files.append(r.json())
    c.file = c.files[0]
    c.marker = marker
    # What an outsider must never see: the bytes, the record's id and hash, the original name.
    c.forbid = [marker] + [f["id"] for f in c.files] + [f["sha256"] for f in c.files] + [c.secret_name]
    r = c.attacker.upload("attacker-own.txt", b"attacker bytes", content_type="text/plain")
    assert r.status_code == 201, r.text
    c.attacker_file = r.json()
    for client in (c.colleague, c.attacker):
        assert client.get("/api/v1/storage/quota").status_code == 200
    yield c
    # The victim's files survived everything, byte for byte.
    for i, f in enumerate(c.files):
        r = c.victim.get(f"/api/v1/storage/objects/{f['object_name']}/metadata")
        assert r.status_code == 200 and r.json()["sha256"] == f["sha256"], r.text
        d = c.victim.get(DOWNLOAD, params={"objectKey": f["object_key"]})
        assert d.status_code == 200 and d.content == marker + b"-%d" % i


def bearer(client):
    return [("Authorization", "Bearer " + client.token)]


def q(s, safe=""):
    return urllib.parse.quote(s, safe=safe)


# -- 1. object names in routes -----------------------------------------------------
# (label, raw path segment as sent, expected statuses). `{key}`, `{name}`,
# `{org}`, `{victim}`, `{me}`, `{my_org}` are filled in per caller; the segment
# goes on the wire exactly as written.

NAME_CASES = [
    ("dot-dot raw", "..", {400, 404}),
    ("dot raw", ".", {400, 404}),
    ("dot-dot encoded", "%2e%2e", 400),
    ("dot-dot encoded upper", "%2E%2E", 400),
    ("dot-dot mixed", ".%2e", 400),
    ("traversal encoded slashes", "..%2f..%2f..%2fetc%2fpasswd", 400),
    ("traversal to victim", "..%2F{victim}%2F{name}", 400),
    ("traversal from own folder", "organizations%2F{my_org}%2Ffiles%2F{me}%2F..%2F{victim}%2F{name}", 400),
    ("traversal up to another org", "organizations%2F{my_org}%2Ffiles%2F{me}%2F..%2F..%2F..%2F{org}%2Ffiles%2F{victim}%2F{name}", 400),
    ("double-encoded dots", "%252e%252e%252f{name}", {400, 404}),
    ("double-encoded slash key", "organizations%252F{org}%252Ffiles%252F{victim}%252F{name}", {400, 404}),
    ("dot-dot backslash encoded", "..%5c{name}", 400),
    ("dot-dot backslash raw", "..\\{name}", 400),
    ("backslash key", "organizations%5C{org}%5Cfiles%5C{victim}%5C{name}", 400),
    ("overlong utf-8 dot", "%c0%ae%c0%ae%c0%af{name}", 400),
    ("overlong utf-8 slash", "..%c0%af{name}", 400),
    ("invalid utf-8", "%ff%fe", 400),
    ("NUL", "{name}%00.txt", 400),
    ("NUL alone", "%00", 400),
    ("CR LF", "{name}%0d%0aX-Injected:%201", 400),
    ("tab", "a%09b", 400),
    ("DEL", "a%7fb", 400),
    ("C1 control", "a%c2%85b", 400),
    ("one-dot-leader pair", "%e2%80%a4%e2%80%a4", 404),
    ("two-dot leader", "%e2%80%a5%2f{name}", 404),
    ("fullwidth dots", "%ef%bc%8e%ef%bc%8e%ef%bc%8f{name}", 404),
    ("fullwidth solidus key", "organizations%ef%bc%8f{org}%ef%bc%8ffiles%ef%bc%8f{victim}%ef%bc%8f{name}", 404),
    ("the victim's full key", "{key_encoded}", 404),
    ("the victim's key upper-cased ids", "{key_upper}", 404),
    ("the victim's name alone", "{name}", 404),
    ("empty segment in key", "organizations%2F%2F{name}", 400),
    ("trailing slash", "{name}%2F", 400),
    ("leading slash", "%2F{name}", 400),
    ("percent alone", "%", 400),
    ("bad escape", "%zz", 400),
    ("semicolon parameter", "{name};jsessionid=1", 404),
    ("question mark encoded", "{name}%3Fx=1", 404),
    ("hidden name", ".htaccess", 404),
    ("spaces", "%20{name}%20", 404),
    ("10k characters", "a" * 10000, {400, 414}),
    ("1025 bytes of multibyte", "%c3%a9" * 513, 400),
]


def fill(segment, ctx, caller):
    key = ctx.file["object_key"]
    return (segment.replace("{key_encoded}", q(key))
            .replace("{key_upper}", q(key.replace(ctx.victim.org, ctx.victim.org.upper())
                                         .replace(ctx.victim.user, ctx.victim.user.upper())))
            .replace("{name}", q(ctx.file["object_name"])).replace("{org}", ctx.victim.org)
            .replace("{victim}", ctx.victim.user).replace("{me}", caller.user).replace("{my_org}", caller.org))


ROUTES = [("GET", "/api/v1/storage/objects/{}/metadata"),
          ("GET", "/api/v1/storage/objects/{}/presigned-url"),
          ("DELETE", "/api/v1/storage/objects/{}"),
          ("GET", "/api/v1/storage/objects/{}/shares"),
          ("POST", "/api/v1/storage/objects/{}/shares")]


@pytest.mark.parametrize("label,segment,expected", NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_object_name_corpus(ctx, label, segment, expected):
    # Every route taking {object_name}, as an outsider and as a colleague: the expected status, never the file.
    for caller in (ctx.attacker, ctx.colleague):
        for method, route in ROUTES:
            target = route.format(fill(segment, ctx, caller))
            r = raw(ctx.stack, method, target, bearer(caller))
            check(r, expected, forbid=ctx.forbid, stack=ctx.stack)
            if r.status_code == 400 and r.json()["error"]["code"] != "bad_request":  # nginx's own 400 has no code of ours
                assert r.json()["error"]["code"] == "invalid_object_name", (label, r)


def test_the_owner_reaches_the_file_by_name_and_by_encoded_key(ctx):
    # Control: the same routes work for the owner, so the 404s above are refusals, not breakage.
    for segment in (q(ctx.file["object_name"]), q(ctx.file["object_key"])):
        r = raw(ctx.stack, "GET", f"/api/v1/storage/objects/{segment}/metadata", bearer(ctx.victim))
        check(r, 200)
        assert r.json()["id"] == ctx.file["id"]


@pytest.mark.parametrize("target", [
    "/api/v1/storage/objects/../../../openapi.json",
    "/api/v1/storage/../storage/quota/../../storage/objects/x/metadata",
    "/api/v1/storage/upload/..",
    "/api/v1/storage//objects//metadata",
    "/api/v1/storage/objects/%2e%2e/%2e%2e/quota",
    "/api/../_store/object",
    "/_store/object",
    "/api/v1/objects/../../_depot_error/500",
    "/_depot_error/500",
    "/_depot_token_too_long",
    "/api/v1/storage/%71uota",
    "/api/v1/storage/quota%00",
    "/api/v1/storage/quota%0d%0aX-Injected:%201",
    "/api/v1/storage/quota/",
    "/API/V1/STORAGE/QUOTA",
    "/api/v1/storage/quota;a=b",
    "/api/v1/storage/quota\\..\\..\\",
    "//api/v1/storage/quota",
    "/../../../etc/passwd",
    "/api/v1/storage/objects/" + "a/" * 2000 + "metadata",
])
def test_path_oddities_never_reach_internal_locations(ctx, target):
    # Raw paths around the routes: a JSON 4xx or a normal answer, never an internal location or a 5xx.
    r = raw(ctx.stack, "GET", target, bearer(ctx.attacker))
    check(r, {200, 400, 401, 404, 405, 414}, forbid=ctx.forbid, stack=ctx.stack)
    if "_store" in target or "_depot_error" in target or "_depot_token" in target:
        assert r.status_code in (400, 404), r


@pytest.mark.parametrize("target", [
    "/docs/../secrets/jwt-hs256.key",
    "/docs/..%2f..%2fsecrets%2fjwt-hs256.key",
    "/docs/%2e%2e/secrets/jwt-hs256.key",
    "/docs/%2e%2e/%2e%2e/depot.conf",
    "/docs..%2fsecrets%2fjwt-hs256.key",
    "/docs/../depot.conf",
    "/docs/assets/../../depot.conf",
    "/docs/..\\..\\depot.conf",
    "/docs/%c0%ae%c0%ae/depot.conf",
    "/openapi.json/../depot.conf",
    "/openapi.json%00.conf",
    "/docs/.",
    "/docs/",
])
def test_static_docs_never_serve_other_files(ctx, target):
    # The docs locations (nginx alias) never reach the run directory's secrets or configuration.
    r = raw(ctx.stack, "GET", target)
    assert r.status_code < 500, r
    secret = ctx.stack.hs256_secret.encode()
    assert secret not in r.content and b"[server]" not in r.content and b"[auth]" not in r.content, target
    if r.status_code >= 400:
        check(r, {400, 403, 404})


# -- 2. objectKey on the download route --------------------------------------------

KEY_CASES = [
    ("the victim's key, no proof", "{key}", 404),
    ("traversal from own folder", "organizations/{my_org}/files/{me}/../{victim}/{name}", 404),
    ("traversal across orgs", "organizations/{my_org}/files/{me}/../../../{org}/files/{victim}/{name}", 404),
    ("encoded traversal", "organizations/{my_org}/files/{me}/%2e%2e/{victim}/{name}", 404),
    ("double-encoded key", "organizations%252F{org}%252Ffiles%252F{victim}%252F{name}", 404),
    ("backslashes", "organizations\\{org}\\files\\{victim}\\{name}", 404),
    ("dot-dot backslash", "..\\..\\{name}", 404),
    ("overlong utf-8", "organizations/{org}/files/{victim}/%c0%ae%c0%ae/{name}", 404),
    ("NUL inside", "{key}%00.txt", 404),
    ("CR LF inside", "{key}%0d%0aSet-Cookie:%20a=b", 404),
    ("unicode lookalike dots", "organizations/{org}/files/{victim}/\u2024\u2024/{name}", 404),
    ("fullwidth solidus", "organizations\uff0f{org}\uff0ffiles\uff0f{victim}\uff0f{name}", 404),
    ("leading slash", "/{key}", 404),
    ("trailing slash", "{key}/", 404),
    ("empty segment", "organizations//{org}/files/{victim}/{name}", 404),
    ("upper-case ids", "{key_upper}", 404),
    ("fake workflow key", "organizations/{org}/workflows/00000000-0000-4000-8000-000000000000/runs/"
                          "00000000-0000-4000-8000-000000000000/output/" + "0" * 32 + "/{name}", 404),
    ("workflow-shaped user key", "organizations/{org}/workflows/{victim}/runs/{victim}/input/" + "a" * 32 + "/{name}", 404),
    ("10k characters", "a" * 10000, {404, 414}),
    ("just a name", "{name}", 404),
]


def fill_key(text, ctx, caller):
    key = ctx.file["object_key"]
    upper = key.replace(ctx.victim.org, ctx.victim.org.upper()).replace(ctx.victim.user, ctx.victim.user.upper())
    return (text.replace("{key_upper}", upper).replace("{key}", key).replace("{name}", ctx.file["object_name"])
            .replace("{org}", ctx.victim.org).replace("{victim}", ctx.victim.user)
            .replace("{me}", caller.user).replace("{my_org}", caller.org))


def encode_query_value(value):
    # Keep existing %XX escapes as they are (they are part of the case); encode the rest.
    return urllib.parse.quote(value, safe="%")


@pytest.mark.parametrize("label,key,expected", KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_download_object_key_corpus(ctx, label, key, expected):
    # Without a token, with an outsider's, with a colleague's: the victim's file never comes back.
    for caller in (ctx.attacker, ctx.colleague):
        target = DOWNLOAD + "?objectKey=" + encode_query_value(fill_key(key, ctx, caller))
        for headers in ([], bearer(caller)):
            for method in ("GET", "HEAD"):
                r = raw(ctx.stack, method, target, headers)
                check(r, expected, forbid=ctx.forbid, stack=ctx.stack, method=method)


def test_download_query_pollution(ctx):
    # Repeated parameters: the attacker's own valid signed link with the victim's key slipped in.
    link = ctx.attacker.get(f"/api/v1/storage/objects/{ctx.attacker_file['object_name']}/presigned-url").json()["url"]
    query = urllib.parse.urlsplit(link).query
    victim_key = "objectKey=" + q(ctx.file["object_key"])
    for polluted in (victim_key + "&" + query, query.replace("objectKey=", victim_key + "&objectKey="),
                     query + "&" + victim_key, query.replace("objectKey=", "objectkey=" + q(ctx.file["object_key"]) + "&objectKey=")):
        r = raw(ctx.stack, "GET", DOWNLOAD + "?" + polluted)
        check(r, {200, 404}, forbid=ctx.forbid, stack=ctx.stack)
        if r.status_code == 200:
            assert r.content == b"attacker bytes"
    for missing in ("", "?objectKey=", "?objectKey", "?type=inline", "?objectKey=&objectKey=" + q(ctx.file["object_key"])):
        check(raw(ctx.stack, "GET", DOWNLOAD + missing), {400, 404}, forbid=ctx.forbid)


DOWNLOAD_HEADER_CASES = [
    # Malformed validators are ignored (RFC 9110): the owner still gets the file.
    ("If-Modified-Since garbage", {"If-Modified-Since": "garbage"}, 200),
    ("If-Modified-Since empty", {"If-Modified-Since": ""}, 200),
    ("If-Modified-Since year 99999", {"If-Modified-Since": "Thu, 01 Jan 99999 00:00:00 GMT"}, 200),
    ("If-Modified-Since with an injected header", {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT x-amz-foo: 1"}, 200),
    ("If-Unmodified-Since garbage", {"If-Unmodified-Since": "garbage"}, 200),
    ("If-Modified-Since in the future", {"If-Modified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"}, 304),
    ("If-Unmodified-Since long ago", {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 412),
    ("If-None-Match huge", {"If-None-Match": '"x", ' * 2000 + '"y"'}, 200),
    ("If-None-Match star", {"If-None-Match": "*"}, 304),
    ("If-Match garbage", {"If-Match": "garbage"}, 412),
    ("If-Range garbage", {"If-Range": "garbage", "Range": "bytes=0-1"}, {200, 206}),
    ("Range garbage", {"Range": "bytes=a-b"}, {200, 416}),
    ("Range reversed", {"Range": "bytes=5-2"}, {200, 416}),
    ("Range huge number", {"Range": "bytes=" + "9" * 5000 + "-"}, {200, 416}),
    ("Range 500 parts", {"Range": "bytes=" + ",".join(["0-0"] * 500)}, {200, 206, 416}),
    ("Range other unit", {"Range": "items=0-1"}, {200, 416}),
    ("Range suffix zero", {"Range": "bytes=-0"}, {200, 416}),
    ("store headers from the client", {"x-amz-server-side-encryption-customer-key": "AAAA", "X-Forwarded-Host": "evil",
                                       "X-Accel-Redirect": "/_store/x", "X-Depot-Store-Path": "/depot/x"}, 200),
]


@pytest.mark.parametrize("label,headers,expected", DOWNLOAD_HEADER_CASES, ids=[c[0] for c in DOWNLOAD_HEADER_CASES])
def test_download_header_corpus(ctx, label, headers, expected):
    # The attacker's own file with odd validators and ranges: a sane status, never the store's error as a 404.
    target = DOWNLOAD + "?objectKey=" + q(ctx.attacker_file["object_key"])
    r = raw(ctx.stack, "GET", target, bearer(ctx.attacker) + list(headers.items()))
    check(r, expected, forbid=ctx.forbid, stack=ctx.stack)
    if r.status_code == 200:
        assert r.content == b"attacker bytes"
    if r.status_code == 206:
        assert b"attacker bytes".startswith(r.content) and r.content


# -- 3. oversized requests -----------------------------------------------------------

OVERSIZED_CASES = [
    ("8k query string", "/api/v1/storage/files?page=1&x=" + "a" * 8192, [], {200, 400, 414}),
    ("8k query value for page", "/api/v1/storage/files?page=" + "9" * 8192, [], 400),
    ("8k query on quota", "/api/v1/storage/quota?" + "&".join(["a=b"] * 2048), [], {200, 400, 414}),
    ("8k query on download", DOWNLOAD + "?objectKey=" + "a" * 8192, [], {404, 414}),
    ("8k query on storage-usage", "/api/v1/objects/storage-usage?createdBy=" + "f" * 8192, [], {400, 414}),
    ("64 KiB query string", "/api/v1/storage/files?x=" + "a" * 65536, [], {200, 400, 414}),
    ("64 KiB header", "/api/v1/storage/quota", [("X-Padding", "a" * 65536)], {200, 400, 431}),
    ("64 KiB cookie", "/api/v1/storage/quota", [("Cookie", "c=" + "b" * 65536)], {200, 400, 431}),
    ("64 KiB Authorization", "/api/v1/storage/quota", "TOKEN64K", 401),
    ("300 KiB header", "/api/v1/storage/quota", [("X-Padding", "a" * 300_000)], {400, 431}),
    ("a thousand headers", "/api/v1/storage/quota", [(f"X-H{i}", "v") for i in range(1000)], {200, 400, 431}),
    ("header with NUL", "/api/v1/storage/quota", [("X-Nul", b"a\x00b")], {200, 400}),
    ("header with bare CR", "/api/v1/storage/quota", [("X-Cr", b"a\rb")], {200, 400}),
    ("obsolete line folding", "/api/v1/storage/quota", [("X-Fold", b"a\r\n b")], {200, 400}),
    ("non-ASCII header bytes", "/api/v1/storage/quota", [("X-Bin", b"\xff\xfe\x80")], {200, 400}),
    ("10k-character object name", "/api/v1/storage/objects/" + "n" * 10000 + "/metadata", [], {400, 414}),
    ("100k-character object name", "/api/v1/storage/objects/" + "n" * 100_000 + "/metadata", [], {400, 414}),
    ("40 KiB query string", "/api/v1/storage/files?x=" + "a" * 40_000, [], {200, 400, 414}),
    ("70 KiB Host header", "/api/v1/storage/quota", [("Host", "h" * 70_000)], {400, 414}),
    ("300-character Host", "/api/v1/storage/quota", [("Host", "h" * 300)], {200, 400}),
]


@pytest.mark.parametrize("label,target,headers,expected", OVERSIZED_CASES, ids=[c[0] for c in OVERSIZED_CASES])
def test_oversized_requests(ctx, label, target, headers, expected):
    # nginx or the worker answers, in JSON, below 500, without hanging.
    if headers == "TOKEN64K":
        headers = [("Authorization", "Bearer " + "e" * 65536)]
    else:
        headers = bearer(ctx.attacker) + list(headers)
    check(raw(ctx.stack, "GET", target, headers), expected, forbid=ctx.forbid, stack=ctx.stack)


def test_oversized_upload_field_and_name(ctx):
    # A 10k-character file name is kept in the record but the key stays short; a 70 KiB field is refused.
    long_name = "x" * 10000 + ".txt"
    r = ctx.attacker.upload(long_name, b"long name")
    check(r, {201, 400})
    if r.status_code == 201:
        f = r.json()
        assert len(f["object_name"]) <= 100 + 32 and f["object_key"].startswith(f"organizations/{ctx.attacker.org}/files/{ctx.attacker.user}/")
    ctype, body = multipart([field("workflow_name", "w" * 70_000), file_part()])
    check(raw(ctx.stack, "POST", UPLOAD, bearer(ctx.attacker) + [("Content-Type", ctype)], body), 400,
          code="malformed_multipart")


def test_bodies_on_routes_that_take_none(ctx):
    # A 20 MB body on a POST route that reads none is refused by nginx before
    # it is stored anywhere (API routes other than uploads take 1 MiB at most);
    # 1 MB on GET and DELETE: answered normally and promptly.
    admin = Client(ctx.stack, org=ctx.attacker.org, role="admin")
    started = time.time()
    r = raw(ctx.stack, "POST", "/api/v1/storage/quota/recalculate", bearer(admin), b"x" * (20 << 20), timeout=60)
    check(r, 413, "payload_too_large")
    r = raw(ctx.stack, "POST", "/api/v1/storage/quota/recalculate", (), b"x" * (20 << 20), timeout=60)
    check(r, 413, "payload_too_large")
    check(raw(ctx.stack, "POST", "/api/v1/storage/quota/recalculate", bearer(admin), b"x" * 1000), 200)
    r = raw(ctx.stack, "GET", "/api/v1/storage/quota", bearer(ctx.attacker), b"y" * (1 << 20))
    check(r, {200, 400})
    r = raw(ctx.stack, "DELETE", "/api/v1/storage/objects/no-such-file.txt", bearer(ctx.attacker), b"z" * (1 << 20))
    check(r, 404)
    assert time.time() - started < 30
    # The workers are still there for everyone else.
    check(raw(ctx.stack, "GET", "/api/v1/storage/quota", bearer(ctx.attacker)), 200)


# -- 4. multipart ------------------------------------------------------------------------

def nested_body():
    inner_type, inner = multipart([field("inner", "x"), file_part(b"inner file", "in.txt")], boundary="inner-boundary")
    return multipart([file_part(inner, "nested.txt", ctype=inner_type)], boundary="outer-boundary")


def prefix_nested_body():
    # The content holds CRLF "--" + the outer boundary + more: the delimiter appears inside the part.
    return multipart([file_part(b"a\r\n--outer-boundary-not-the-end\r\nb", "n.txt")], boundary="outer-boundary")


def many_parts(n):
    return multipart([field(f"f{i}", "v") for i in range(n - 1)] + [file_part()])


def boundary_of(length):
    b = ("B" * length)
    return multipart([file_part()], boundary=b)


def lf_only():
    ctype, body = multipart([field("category", "general"), file_part()])
    return ctype, body.replace(b"\r\n", b"\n")


def no_crlf_before_close():
    ctype, body = multipart([file_part(b"abc")])
    return ctype, body.replace(b"abc\r\n--", b"abc--")


def no_crlf_after_headers():
    boundary = "nocrlf"
    body = (b"--nocrlf\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nabc\r\n--nocrlf--\r\n")
    return f"multipart/form-data; boundary={boundary}", body


def huge_part_header():
    return multipart([([f'Content-Disposition: form-data; name="file"; filename="h.txt"', "X-Pad: " + "p" * (1 << 20)], b"x")])


def huge_filename_header():
    return multipart([file_part(b"x", "f" * (1 << 20) + ".txt")])


def raw_crlf_in_filename():
    return multipart([([b'Content-Disposition: form-data; name="file"; filename="a\r\nSet-Cookie: x=1.txt"'], b"x")])


def gzip_claim(compressed):
    ctype, body = multipart([file_part(b"gzip claim")])
    return ctype, (gzip.compress(body) if compressed else body), [("Content-Encoding", "gzip")]


MULTIPART_CASES = [
    # label, builder -> (content type, body[, extra headers]), expected statuses, error code
    ("nested multipart inside the file", nested_body, 201, None),
    ("outer delimiter inside the content", prefix_nested_body, 400, "malformed_multipart"),
    ("10,000 parts", lambda: many_parts(10_000), 400, "malformed_multipart"),
    ("33 parts", lambda: many_parts(33), 400, "malformed_multipart"),
    ("32 parts", lambda: many_parts(32), 201, None),
    ("1 MB part header", huge_part_header, 400, "malformed_multipart"),
    ("1 MB filename", huge_filename_header, 400, "malformed_multipart"),
    ("LF instead of CRLF", lf_only, 400, "malformed_multipart"),
    ("no CRLF before the closing delimiter", no_crlf_before_close, 400, "malformed_multipart"),
    ("no blank line after part headers", no_crlf_after_headers, 400, "malformed_multipart"),
    ("truncated: no closing delimiter", lambda: (lambda c, b: (c, b[:-12]))(*multipart([file_part()])), 400, "malformed_multipart"),
    ("boundary of 70 characters", lambda: boundary_of(70), 201, None),
    ("boundary of 71 characters", lambda: boundary_of(71), 400, "malformed_multipart"),
    ("boundary of 200 characters", lambda: boundary_of(200), 400, "malformed_multipart"),
    ("boundary with a character outside bchars", lambda: multipart([file_part()], boundary="a$b"), 400, "malformed_multipart"),
    ("boundary with regex characters", lambda: multipart([file_part()], boundary="(a+)+=?"), 201, None),
    ("empty boundary", lambda: ("multipart/form-data; boundary=", multipart([file_part()], boundary="x")[1]), 400, "malformed_multipart"),
    ("Content-Type without boundary", lambda: ("multipart/form-data", multipart([file_part()])[1]), 400, "malformed_multipart"),
    ("boundary given twice", lambda: (lambda c, b: (c + "; boundary=other", b))(*multipart([file_part()])), 400, "malformed_multipart"),
    ("not multipart at all", lambda: ("application/json", b'{"file": "x"}'), {400, 415}, None),
    ("no Content-Type", lambda: (None, multipart([file_part()])[1]), {400, 415}, None),
    ("duplicate file parts", lambda: multipart([file_part(b"one", "1.txt"), file_part(b"two", "2.txt")]), 400, "malformed_multipart"),
    ("duplicate field", lambda: multipart([field("category", "general"), field("category", "data_source"), file_part()]), 400, "malformed_multipart"),
    ("file part without filename", lambda: multipart([field("file", "not a file")]), 400, "missing_file"),
    ("file under another name", lambda: multipart([file_part(name="upload")]), 400, "missing_file"),
    ("empty body", lambda: ("multipart/form-data; boundary=x", b""), 400, None),
    ("only the closing delimiter", lambda: ("multipart/form-data; boundary=x", b"--x--\r\n"), 400, "missing_file"),
    ("empty file", lambda: multipart([file_part(b"")]), 400, "empty_file"),
    ("part without Content-Disposition", lambda: multipart([(["Content-Type: text/plain"], b"x"), file_part()]), 400, "malformed_multipart"),
    ("Content-Disposition attachment", lambda: multipart([(['Content-Disposition: attachment; name="file"; filename="a"'], b"x")]), 400, "malformed_multipart"),
    ("folded part header", lambda: multipart([(['Content-Disposition: form-data;', ' name="file"; filename="a"'], b"x")]), 400, "malformed_multipart"),
    ("unterminated quoted filename", lambda: multipart([(['Content-Disposition: form-data; name="file"; filename="a.txt'], b"x")]), 400, "malformed_multipart"),
    ("raw CR LF inside the filename", raw_crlf_in_filename, 400, "malformed_multipart"),
    ("NUL in filename*", lambda: multipart([(["Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%00b.txt"], b"x")]), 400, "malformed_multipart"),
    ("invalid UTF-8 in filename*", lambda: multipart([(["Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%ff%fe.txt"], b"x")]), 400, "malformed_multipart"),
    ("unknown charset in filename*", lambda: multipart([(["Content-Disposition: form-data; name=\"file\"; filename*=EBCDIC''abc"], b"x")]), 400, "malformed_multipart"),
    ("invalid UTF-8 field value", lambda: multipart([field("category", b"\xff\xfe"), file_part()]), 400, "malformed_multipart"),
    ("control character in a part header", lambda: multipart([(['Content-Disposition: form-data; name="file"; filename="a"', b"X-C: a\x01b"], b"x")]), 400, "malformed_multipart"),
    ("gzip body claimed and sent", lambda: gzip_claim(True), {400, 415}, None),
    ("gzip claimed, plain body sent", lambda: gzip_claim(False), {201, 400, 415}, None),
    ("preamble and epilogue", lambda: multipart([file_part()], preamble=b"ignore me\r\n" * 100, epilogue=b"\r\nand me" * 100), 201, None),
    ("transport padding after boundary", lambda: (lambda c, b: (c, b.replace(b"\r\nContent-Disposition", b" \t \r\nContent-Disposition", 1)))(*multipart([file_part()])), 201, None),
    ("category outside the list", lambda: multipart([field("category", "../../etc"), file_part()]), 422, "invalid_category"),
    ("path in filename", lambda: multipart([file_part(b"x", "../../../../etc/passwd")]), 201, None),
    ("filename of dots", lambda: multipart([file_part(b"x", "..")]), 201, None),
    ("windows path in filename", lambda: multipart([file_part(b"x", "C:\\Windows\\..\\system32\\evil.exe")]), 201, None),
]


@pytest.mark.parametrize("label,build,expected,code", MULTIPART_CASES, ids=[c[0] for c in MULTIPART_CASES])
def test_multipart_corpus(ctx, label, build, expected, code):
    # Each body over a raw socket: the expected status and code, and a stored file only under the caller's folder.
    built = build()
    ctype, body = built[0], built[1]
    extra = list(built[2]) if len(built) > 2 else []
    headers = bearer(ctx.attacker) + ([("Content-Type", ctype)] if ctype else []) + extra
    r = raw(ctx.stack, "POST", UPLOAD, headers, body, timeout=max(TIMEOUT, 60))
    check(r, expected, code=code, forbid=ctx.forbid, stack=ctx.stack)
    if r.status_code == 201:
        f = r.json()
        folder = f"organizations/{ctx.attacker.org}/files/{ctx.attacker.user}/"
        assert f["object_key"].startswith(folder) and "/" not in f["object_key"][len(folder):], f
        assert ".." not in f["object_key"].split("/") and "\\" not in f["object_key"]
        assert "/" not in f["original_filename"] and "\\" not in f["original_filename"], f


def test_nested_multipart_is_stored_byte_for_byte(ctx):
    # The inner multipart is just content: downloaded back exactly.
    ctype, body = nested_body()
    r = raw(ctx.stack, "POST", UPLOAD, bearer(ctx.attacker) + [("Content-Type", ctype)], body)
    check(r, 201)
    f = r.json()
    inner = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--outer-boundary--", 1)[0]
    assert f["sha256"] == hashlib.sha256(inner).hexdigest()
    d = ctx.attacker.get(DOWNLOAD, params={"objectKey": f["object_key"]})
    assert d.status_code == 200 and d.content == inner


def test_chunked_upload_body(ctx):
    # Transfer-Encoding: chunked instead of Content-Length, with odd chunk sizes.
    ctype, body = multipart([file_part(b"chunked " * 1000, "chunked.txt")])
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    r = raw(ctx.stack, "POST", UPLOAD, bearer(ctx.attacker) + [("Content-Type", ctype), ("Transfer-Encoding", "chunked")],
            chunks, content_length=False)
    check(r, 201)
    assert r.json()["size"] == 8000


def test_conflicting_length_headers_are_refused(ctx):
    # Content-Length together with Transfer-Encoding, or two different Content-Lengths: request smuggling shapes.
    ctype, body = multipart([file_part()])
    for headers in ([("Content-Length", str(len(body))), ("Content-Length", str(len(body) + 5))],
                    [("Content-Length", "abc")],
                    [("Content-Length", "-1")],
                    [("Transfer-Encoding", "gzip, chunked"), ("Content-Length", str(len(body)))]):
        r = raw(ctx.stack, "POST", UPLOAD, bearer(ctx.attacker) + [("Content-Type", ctype)] + headers, body,
                content_length=False, timeout=20)
        check(r, {400, 411}, forbid=ctx.forbid)


@pytest.mark.parametrize("label,request_line,expected", [
    ("TRACE on a POST route", b"TRACE /api/v1/storage/upload HTTP/1.1", 405),
    ("TRACE on a DELETE route", b"TRACE /api/v1/storage/objects/a.txt HTTP/1.1", 405),
    ("TRACE on a GET route", b"TRACE /api/v1/storage/quota HTTP/1.1", 405),
    ("PATCH on a GET route", b"PATCH /api/v1/storage/quota HTTP/1.1", 405),
    ("method with odd characters", b"G@T /api/v1/storage/quota HTTP/1.1", 400),
    ("lower-case method", b"get /api/v1/storage/quota HTTP/1.1", {400, 405}),
    ("HTTP/3.0", b"GET /api/v1/storage/quota HTTP/3.0", 400),
    ("HTTP/1.1 twice", b"GET /api/v1/storage/quota HTTP/1.1 HTTP/1.1", 400),
    ("absolute-form target", b"GET http://evil.example/api/v1/storage/quota HTTP/1.1", {200, 400}),
    ("asterisk target", b"GET * HTTP/1.1", {400, 404}),
    ("target without a slash", b"GET api/v1/storage/quota HTTP/1.1", 400),
    ("tab in the request line", b"GET\t/api/v1/storage/quota HTTP/1.1", {200, 400}),
])
def test_request_line_oddities(ctx, label, request_line, expected):
    # Odd methods, versions and targets: a JSON 4xx from nginx or the worker; a 405 says what is allowed.
    sock = socket.create_connection(("127.0.0.1", ctx.stack.port), timeout=TIMEOUT)
    try:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer "
                     + ctx.attacker.token.encode() + b"\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = [tuple(x.strip().decode("latin-1") for x in line.split(b":", 1)) for line in lines[1:]]
    r = RawResponse(int(lines[0].split(b" ")[1]), headers, body, head)
    check(r, expected, forbid=ctx.forbid)
    if r.status_code == 405:
        allow = r.header("Allow")
        assert allow and set(allow.replace(" ", "").split(",")) <= {"GET", "HEAD", "POST", "DELETE"}, r.header_list


# -- 5. query parameters on every route ----------------------------------------------------

BAD = ["0", "-1", "1.5", "abc", "1e3", "", " 1", "0x10", "99999999999999999999999", "NaN", "%00", "1%00", "1;drop table files",
       "１"]  # the last one is a fullwidth digit
QUERY_CASES = (
    [("/api/v1/storage/files", "page", v, 400) for v in BAD]
    + [("/api/v1/storage/files", "page_size", v, 400) for v in BAD + ["101", "1000000"]]
    + [("/api/v1/storage/files", "category", v, 400) for v in ["x", "", "GENERAL", "general ", "general%00", "data_source,general"]]
    + [("/api/v1/storage/files", "sort", v, 400) for v in ["x", "", "SIZE", "size desc", "size;drop table files", "id", "user_id"]]
    + [("/api/v1/storage/files", "order", v, 400) for v in ["x", "", "DESC", "ascending", "asc%00"]]
    + [("/api/v1/storage/buckets/depot/objects", "limit", v, 400) for v in BAD + ["1001"]]
    + [("/api/v1/storage/buckets/depot/objects", "prefix", v, 400) for v in ["%00", "a%0d%0ab", "..%5c..%5c"]]
    + [("/api/v1/storage/buckets/depot/objects", "continuation_token", v, {200, 400})
       for v in ["x", "%00", "..%2f..%2f", "organizations%2F", "A" * 2000]]
    + [("/api/v1/storage/objects/{own}/presigned-url", "expires_in", v, 400) for v in BAD + ["604801", "-604800"]]
    + [("/api/v1/storage/objects/{own}/presigned-url", "type", v, 400) for v in ["x", "", "INLINE", "inline%00", "attachment;inline"]]
    + [(DOWNLOAD + "?objectKey={own_key}", "type", v, 400) for v in ["x", "INLINE", "script"]]
    + [(DOWNLOAD + "?objectKey={own_key}", "expires", v, {200, 404}) for v in BAD]
    + [(DOWNLOAD + "?objectKey={own_key}", "signature", v, {200, 404}) for v in ["", "%00", "====", "a" * 1000, "+/+/"]]
    + [("/api/v1/objects/storage-usage", "createdBy", v, 400)
       for v in ["x", "", "' OR 1=1 --", "{00000000-0000-0000-0000-000000000000}", "00000000000000000000000000000000",
                 "00000000-0000-0000-0000-00000000000g", "00000000-0000-0000-0000-000000000000%00", "%2e%2e%2f"]]
)


@pytest.mark.parametrize("route,name,value,expected", QUERY_CASES,
                         ids=[f"{c[0].split('?')[0].rsplit('/', 1)[-1]}-{c[1]}={c[2][:20]!r}" for c in QUERY_CASES])
def test_query_parameter_corpus(ctx, route, name, value, expected):
    # Out of range, wrong type, outside the list, injected: 400 invalid_parameter (never 5xx, never a widened answer).
    own = ctx.attacker_file
    path = route.replace("{own}", own["object_name"]).replace("{own_key}", q(own["object_key"]))
    sep = "&" if "?" in path else "?"
    target = f"{path}{sep}{name}={value.replace(' ', '%20')}"
    for caller_headers in (bearer(ctx.attacker), bearer(Client(ctx.stack, org=ctx.attacker.org, role="admin"))):
        r = raw(ctx.stack, "GET", target, caller_headers)
        check(r, expected, forbid=ctx.forbid, stack=ctx.stack)
        if r.status_code == 400 and name not in ("continuation_token",):
            assert r.json()["error"]["code"] in ("invalid_parameter", "bad_request"), r


def test_listing_prefixes_never_widen_the_listing(ctx):
    # Prefixes that point at the victim's folder or above: only the caller's own keys come back.
    folder = f"organizations/{ctx.victim.org}/files/"
    for caller in (ctx.colleague, ctx.attacker):
        own = f"organizations/{caller.org}/files/{caller.user}/"
        for prefix in (folder, folder + ctx.victim.user + "/", "organizations/", "o", "../" + ctx.victim.user + "/",
                       "..%2f" + ctx.victim.user, "%2e%2e/", own + "../" + ctx.victim.user + "/",
                       ctx.file["object_key"], ctx.file["object_name"][:5]):
            r = raw(ctx.stack, "GET", "/api/v1/storage/buckets/depot/objects?limit=1000&prefix=" + q(prefix, safe="%"),
                    bearer(caller))
            check(r, {200, 400}, forbid=ctx.forbid)
            if r.status_code == 200:
                for o in r.json()["objects"]:
                    assert o["key"].startswith(own), (prefix, o["key"])
    # Continuation tokens that try to smuggle their own query into the store request.
    for token in ("x&prefix=organizations/", "x&list-type=1&marker=organizations/", "x&max-keys=100000&delimiter=/",
                  "organizations/" + ctx.victim.org + "/files/" + ctx.victim.user + "/", "\n\r&=?#"):
        for caller in (ctx.colleague, ctx.attacker):
            own = f"organizations/{caller.org}/files/{caller.user}/"
            r = raw(ctx.stack, "GET", "/api/v1/storage/buckets/depot/objects?continuation_token=" + q(token), bearer(caller))
            check(r, {200, 400}, forbid=ctx.forbid)
            if r.status_code == 200:
                assert all(o["key"].startswith(own) for o in r.json()["objects"]), (token, r.json())
    for bucket in ("..", "%2e%2e", "depot%2F..", "DEPOT", "depot%00", "a" * 300, "depot%2Forganizations"):
        check(raw(ctx.stack, "GET", f"/api/v1/storage/buckets/{bucket}/objects", bearer(ctx.attacker)), {400, 404},
              forbid=ctx.forbid)


def test_member_created_by_is_refused_and_admin_sees_only_the_org(ctx):
    # createdBy with the victim's id: a member of another org gets 403, an admin of another org sees zero.
    r = raw(ctx.stack, "GET", f"/api/v1/objects/storage-usage?createdBy={ctx.victim.user}", bearer(ctx.attacker))
    check(r, 403, code="forbidden")
    admin = Client(ctx.stack, org=ctx.attacker.org, role="admin")
    r = raw(ctx.stack, "GET", f"/api/v1/objects/storage-usage?createdBy={ctx.victim.user.upper()}", bearer(admin))
    check(r, 200, forbid=ctx.forbid)
    assert r.json()["totalBytes"] == 0 and r.json()["fileCount"] == 0


def test_junk_parameters_on_routes_without_parameters(ctx):
    # Unknown parameters are ignored, never an error of the server's.
    for path in ("/api/v1/storage/quota", "/api/v1/storage/usage", "/api/v1/storage/buckets", "/api/v1/health"):
        r = raw(ctx.stack, "GET", path + "?page=-1&limit=abc&%00=%00&a[]=1&__proto__=x", bearer(ctx.attacker))
        check(r, 200, forbid=ctx.forbid)
    r = raw(ctx.stack, "POST", "/api/v1/storage/quota/recalculate?org=" + ctx.victim.org,
            bearer(Client(ctx.stack, org=ctx.attacker.org, role="admin")))
    check(r, 200, forbid=ctx.forbid)


# -- 5b. ids of shares: other users', other organizations', revoked, malformed -------------
# (label, id as sent, expected status). `{mine}` is a live share the victim
# made, `{revoked}` one the victim revoked, `{foreign}` one another
# organization made of its own file, `{colleague}` one the colleague can see
# as its grantee. Each is tried by every caller but the one it belongs to.

SHARE_ID_CASES = [
    ("malformed", "not-a-share", 400),
    ("empty-looking", "%20", 400),
    ("uuid with NUL", "{mine}%00", 400),
    ("uuid with traversal", "..%2F{mine}", {400, 404}),
    ("sql in id", "1'%20OR%20'1'='1", 400),
    ("31 hex digits", "{mine_short}", 400),
    ("unknown uuid", "00000000-0000-4000-8000-000000000000", 404),
    ("the victim's live share", "{mine}", 404),
    ("the victim's share upper-cased", "{mine_upper}", 404),
    ("a revoked share", "{revoked}", 404),
    ("another organization's share", "{foreign}", 404),
]


@pytest.fixture(scope="module")
def shares(ctx):
    """The victim shares one file with the colleague (live), one more and revokes it;
    an admin of another organization shares one of their own."""
    name = "shared-" + uuid.uuid4().hex[:8] + ".txt"
    f = ctx.victim.upload(name, b"shared with the colleague", content_type="text/plain").json()
    live = ctx.victim.post(f"/api/v1/storage/objects/{f['object_name']}/shares", json={"user_id": ctx.colleague.user})
    assert live.status_code == 201, live.text
    gone = ctx.victim.post(f"/api/v1/storage/objects/{f['object_name']}/shares", json={"organization": True}).json()
    assert ctx.victim.delete(f"/api/v1/storage/shares/{gone['id']}").status_code == 204
    outsider = Client(ctx.stack, org=ctx.attacker.org, role="admin")
    mine = outsider.upload("their-own.txt", b"theirs", content_type="text/plain").json()
    foreign = outsider.post(f"/api/v1/storage/objects/{mine['object_name']}/shares", json={"organization": True}).json()
    yield {"file": f, "mine": live.json()["id"], "revoked": gone["id"], "foreign": foreign["id"]}
    # Nothing in the corpus revoked the victim's share or reached the file.
    r = ctx.colleague.get(f"/api/v1/storage/objects/{q(f['object_key'])}/metadata")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("label,share_id,expected", SHARE_ID_CASES, ids=[c[0] for c in SHARE_ID_CASES])
def test_share_id_corpus(ctx, shares, label, share_id, expected):
    target = "/api/v1/storage/shares/" + (share_id.replace("{mine_upper}", shares["mine"].upper())
                                          .replace("{mine_short}", shares["mine"].replace("-", "")[:31])
                                          .replace("{mine}", shares["mine"]).replace("{revoked}", shares["revoked"])
                                          .replace("{foreign}", shares["foreign"]))
    # The grantee, an outsider and an outsider's admin: never a revocation that is not theirs.
    for caller in (ctx.colleague, ctx.attacker):
        check(raw(ctx.stack, "DELETE", target, bearer(caller)), expected, forbid=ctx.forbid)


def test_share_bodies_never_reach_outside_the_organization(ctx, shares):
    # Sharing one's own file with the victim (another organization), with odd bodies: 422/400, never a grant.
    name = ctx.attacker_file["object_name"]
    path = f"/api/v1/storage/objects/{name}/shares"
    for body in (b'{"user_id": "%s"}' % ctx.victim.user.encode(), b'{"user_id": "%s"}' % ctx.victim.user.upper().encode(),
                 b'{"organization": true, "organization_id": "%s"}' % ctx.victim.org.encode(),
                 b'{"user_id": ["%s"]}' % ctx.victim.user.encode(), b'{"user_id": null}', b'{"organization": "true"}',
                 b'{"user_id": "%s", "user_id": "%s"}' % (ctx.attacker.user.encode(), ctx.victim.user.encode()),
                 b"\xff\xfe", b"null", b"1e999", b'{"organization": true' + b" " * 2000 + b"}"):
        r = raw(ctx.stack, "POST", path, bearer(ctx.attacker) + [("Content-Type", "application/json")], body)
        check(r, {400, 413, 422}, forbid=ctx.forbid)
    # The victim's files never appear in the attacker's shared or organization listings.
    for scope in ("shared", "own"):
        r = raw(ctx.stack, "GET", "/api/v1/storage/files?scope=" + scope, bearer(ctx.attacker))
        check(r, 200, forbid=ctx.forbid)
        assert all(f["object_key"].startswith(f"organizations/{ctx.attacker.org}/") for f in r.json()["files"])


@pytest.fixture(scope="module")
def links(ctx):
    """The victim's live signed link and a revoked one; another organization's admin's own link."""
    name = ctx.file["object_name"]
    live = ctx.victim.get(f"/api/v1/storage/objects/{name}/presigned-url").json()
    gone = ctx.victim.get(f"/api/v1/storage/objects/{name}/presigned-url", params={"expires_in": 600}).json()
    assert ctx.victim.delete(f"/api/v1/storage/links/{gone['id']}").status_code == 204
    outsider = Client(ctx.stack, org=ctx.attacker.org, role="admin")
    theirs = outsider.upload("their-link.txt", b"theirs", content_type="text/plain").json()
    foreign = outsider.get(f"/api/v1/storage/objects/{theirs['object_name']}/presigned-url").json()
    yield {"mine": live["id"], "revoked": gone["id"], "foreign": foreign["id"]}
    # The victim's live link still opens the file; nobody revoked it.
    assert requests.get(live["url"], timeout=30).content == ctx.marker + b"-0"


@pytest.mark.parametrize("label,link_id,expected", SHARE_ID_CASES, ids=[c[0] for c in SHARE_ID_CASES])
def test_download_link_id_corpus(ctx, links, label, link_id, expected):
    # The same id corpus on link revocation: another member or another organization never revokes the victim's link.
    target = "/api/v1/storage/links/" + (link_id.replace("{mine_upper}", links["mine"].upper())
                                         .replace("{mine_short}", links["mine"].replace("-", "")[:31])
                                         .replace("{mine}", links["mine"]).replace("{revoked}", links["revoked"])
                                         .replace("{foreign}", links["foreign"]))
    for caller in (ctx.colleague, ctx.attacker):
        check(raw(ctx.stack, "DELETE", target, bearer(caller)), expected, forbid=ctx.forbid)


def test_link_listings_show_only_the_callers_links(ctx, links):
    for caller in (ctx.colleague, ctx.attacker, Client(ctx.stack, org=ctx.victim.org, role="admin")):
        r = raw(ctx.stack, "GET", "/api/v1/storage/links", bearer(caller))
        check(r, 200, forbid=ctx.forbid + [links["mine"]])


WORKFLOW_ID_CASES = [
    ("malformed workflow", "/api/v1/storage/workflows/not-a-uuid/files", 400),
    ("workflow with traversal", "/api/v1/storage/workflows/..%2F{wf}/files", {400, 404}),
    ("workflow with NUL", "/api/v1/storage/workflows/{wf}%00/files", {400, 404}),
    ("malformed run filter", "/api/v1/storage/workflows/{wf}/files?run_id=x", 400),
    ("bad direction", "/api/v1/storage/workflows/{wf}/files?direction=sideways", 400),
    ("malformed run delete", "/api/v1/storage/workflows/{wf}/runs/not-a-run", 400),
    ("sql in run", "/api/v1/storage/workflows/{wf}/runs/1'%20OR%20'1'='1", 400),
]


@pytest.fixture(scope="module")
def workflow(ctx):
    """A workflow output of the victim's, in a workflow and run the attacker knows the ids of."""
    wf, run = str(uuid.uuid4()), str(uuid.uuid4())
    ctype, body = multipart([field("workflow_id", wf), field("run_id", run), field("direction", "output"),
                             file_part(ctx.marker + b"-wf", "result.csv")])
    r = raw(ctx.stack, "POST", UPLOAD, bearer(ctx.victim) + [("Content-Type", ctype)], body)
    check(r, 201)
    yield {"wf": wf, "run": run, "file": r.json()}
    listed = ctx.victim.get(f"/api/v1/storage/workflows/{wf}/files").json()["files"]
    assert [f["id"] for f in listed] == [r.json()["id"]], listed


@pytest.mark.parametrize("label,target,expected", WORKFLOW_ID_CASES, ids=[c[0] for c in WORKFLOW_ID_CASES])
def test_workflow_id_corpus(ctx, workflow, label, target, expected):
    method = "DELETE" if "/runs/" in target else "GET"
    for caller in (ctx.colleague, ctx.attacker):
        check(raw(ctx.stack, method, target.replace("{wf}", workflow["wf"]), bearer(caller)), expected,
              forbid=ctx.forbid + [workflow["file"]["id"]])


def test_workflow_routes_never_reach_another_members_or_organizations_files(ctx, workflow):
    wf, run, f = workflow["wf"], workflow["run"], workflow["file"]
    forbid = ctx.forbid + [f["id"], f["sha256"]]
    outsider_admin = Client(ctx.stack, org=ctx.attacker.org, role="admin")
    for caller in (ctx.colleague, ctx.attacker, outsider_admin):
        r = raw(ctx.stack, "GET", f"/api/v1/storage/workflows/{wf}/files?run_id={run}", bearer(caller))
        check(r, 200, forbid=forbid)
        assert r.json()["files"] == [] and r.json()["pagination"]["total"] == 0
        r = raw(ctx.stack, "DELETE", f"/api/v1/storage/workflows/{wf}/runs/{run}", bearer(caller))
        check(r, 200, forbid=forbid)
        assert r.json() == {"deleted": 0, "freed_bytes": 0}
        # The key itself: metadata and delete by full key are the uploader's and their admins'.
        enc = q(f["object_key"])
        check(raw(ctx.stack, "GET", f"/api/v1/storage/objects/{enc}/metadata", bearer(caller)), 404, forbid=forbid)
        check(raw(ctx.stack, "DELETE", f"/api/v1/storage/objects/{enc}", bearer(caller)), 404, forbid=forbid)
        body = json.dumps({"object_names": [f["object_key"], f["object_name"]]}).encode()
        r = raw(ctx.stack, "POST", "/api/v1/storage/objects/delete", bearer(caller) + [("Content-Type", "application/json")], body)
        check(r, 200, forbid=forbid)
        assert r.json()["deleted"] == []


# -- 6. workflow fields --------------------------------------------------------------------

WF = "6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d"
RUN = "0b7e5c3a-1d2f-4e6a-8b9c-7d5e3f1a2b4c"
WORKFLOW_CASES = [
    ("workflow_id not a uuid", {"workflow_id": "abc", "run_id": RUN, "direction": "input"}, 422),
    ("workflow_id traversal", {"workflow_id": "../../files/" + WF, "run_id": RUN, "direction": "input"}, 422),
    ("workflow_id with slash", {"workflow_id": WF + "/x", "run_id": RUN, "direction": "input"}, 422),
    ("workflow_id braces", {"workflow_id": "{" + WF + "}", "run_id": RUN, "direction": "input"}, 422),
    ("workflow_id no dashes", {"workflow_id": WF.replace("-", ""), "run_id": RUN, "direction": "input"}, 422),
    ("workflow_id trailing newline", {"workflow_id": WF + "\n", "run_id": RUN, "direction": "input"}, 422),
    ("workflow_id sql", {"workflow_id": "' OR 1=1 --", "run_id": RUN, "direction": "input"}, 422),
    ("run_id not a uuid", {"workflow_id": WF, "run_id": "run-1", "direction": "input"}, 422),
    ("run_id missing", {"workflow_id": WF, "direction": "input"}, 422),
    ("direction outside the list", {"workflow_id": WF, "run_id": RUN, "direction": "sideways"}, 422),
    ("direction traversal", {"workflow_id": WF, "run_id": RUN, "direction": "../input"}, 422),
    ("workflow_name alone", {"workflow_name": "orphan"}, 422),
    ("workflow_name too long", {"workflow_id": WF, "run_id": RUN, "direction": "input", "workflow_name": "n" * 201}, 422),
    ("workflow_name control characters", {"workflow_id": WF, "run_id": RUN, "direction": "input", "workflow_name": "a\x1bb"}, 422),
    ("upper-case ids are accepted", {"workflow_id": WF.upper(), "run_id": RUN.upper(), "direction": "output"}, 201),
]


@pytest.mark.parametrize("label,fields,expected", WORKFLOW_CASES, ids=[c[0] for c in WORKFLOW_CASES])
def test_workflow_field_corpus(ctx, label, fields, expected):
    # Non-UUID ids and bad directions: 422, nothing stored; valid ones land under the workflow folder.
    ctype, body = multipart([field(k, v) for k, v in fields.items()] + [file_part()])
    r = raw(ctx.stack, "POST", UPLOAD, bearer(ctx.attacker) + [("Content-Type", ctype)], body)
    check(r, expected, forbid=ctx.forbid)
    if r.status_code == 201:
        key = r.json()["object_key"]
        assert key.startswith(f"organizations/{ctx.attacker.org}/workflows/{WF}/runs/{RUN}/output/"), key


def test_location_of_an_upload_can_be_followed(ctx):
    # A file's Location is its metadata route: a user file's by name, a workflow file's by its full key.
    ctype, body = multipart([file_part(b"loc", "loc.txt")])
    r = raw(ctx.stack, "POST", UPLOAD, bearer(ctx.attacker) + [("Content-Type", ctype)], body)
    check(r, 201)
    followed = raw(ctx.stack, "GET", r.header("Location"), bearer(ctx.attacker))
    check(followed, 200)
    assert followed.json()["id"] == r.json()["id"]
    ctype, body = multipart([field("workflow_id", WF), field("run_id", RUN), field("direction", "input"), file_part(b"wf", "wf.txt")])
    r = raw(ctx.stack, "POST", UPLOAD, bearer(ctx.attacker) + [("Content-Type", ctype)], body)
    check(r, 201)
    followed = raw(ctx.stack, "GET", r.header("Location"), bearer(ctx.attacker))
    check(followed, 200)
    assert followed.json()["id"] == r.json()["id"]
    # Nobody else follows it.
    check(raw(ctx.stack, "GET", r.header("Location"), bearer(ctx.victim)), 404, forbid=[r.json()["id"]])


# -- 7. JWT forgeries ------------------------------------------------------------------------

def b64(raw_bytes):
    return base64.urlsafe_b64encode(raw_bytes).rstrip(b"=").decode()


def js(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def claims(**over):
    now = int(time.time())
    c = {"sub": str(uuid.uuid4()), "org": str(uuid.uuid4()), "exp": now + 600, "iat": now, "iss": ISSUER, "aud": AUDIENCE}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def hs(secret, header, payload):
    """Signs raw header/payload bytes (so duplicated names survive) with HS256."""
    signing = b64(header) + "." + b64(payload)
    key = secret if isinstance(secret, bytes) else secret.encode()
    return signing + "." + b64(hmac.new(key, signing.encode(), hashlib.sha256).digest())


class Env:
    """What a forger works with: the victim's ids, public keys, a valid token of someone else."""

    def __init__(self, stack, keys, victim):
        self.secret = stack.hs256_secret
        self.rsa_pem = Keys.public_pem(keys.rsa_private).encode()
        self.ec_pem = Keys.public_pem(keys.ec_private).encode()
        self.rsa_private = keys.rsa_private
        self.victim = victim
        self.now = now = int(time.time())
        self.body = js(claims(sub=victim.user, org=victim.org, role="admin"))
        self.h, self.p, self.s = jwt.encode(claims(), self.secret, algorithm="HS256").split(".")
        self.good = ".".join((self.h, self.p, self.s))
        self.base = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "sub": victim.user, "org": victim.org}
        self.ids = f'"sub":"{victim.user}","org":"{victim.org}"'
        self.tail = f',"iss":"{ISSUER}","aud":"{AUDIENCE}"'

    def hs(self, header, payload, key=None):
        return hs(self.secret if key is None else key, header, payload)

    def claims_text(self, extra):
        """A payload written by hand (so duplicated names and odd numbers survive)."""
        return ("{" + self.ids + extra + self.tail + "}").encode()


HS = js({"alg": "HS256"})
FORGERIES = [
    ("alg none", lambda e: b64(js({"alg": "none", "typ": "JWT"})) + "." + b64(e.body) + "."),
    ("alg None with a signature", lambda e: b64(js({"alg": "None"})) + "." + b64(e.body) + "." + e.s),
    ("alg NONE", lambda e: b64(js({"alg": "NONE"})) + "." + b64(e.body) + "."),
    ("alg nOnE", lambda e: b64(js({"alg": "nOnE"})) + "." + b64(e.body) + "."),
    ("alg empty", lambda e: b64(js({"alg": ""})) + "." + b64(e.body) + "."),
    ("alg missing", lambda e: b64(js({"typ": "JWT"})) + "." + b64(e.body) + "." + e.s),
    ("alg HS512", lambda e: e.hs(js({"alg": "HS512"}), e.body)),
    ("alg hs256 lower-case", lambda e: e.hs(js({"alg": "hs256"}), e.body)),
    ("alg as an array", lambda e: e.hs(b'{"alg":["HS256"]}', e.body)),
    ("key confusion: HS256 keyed with the RSA public key", lambda e: e.hs(HS, e.body, e.rsa_pem)),
    ("key confusion: HS256 keyed with the EC public key", lambda e: e.hs(HS, e.body, e.ec_pem)),
    ("key confusion: RSA key without its newline", lambda e: e.hs(HS, e.body, e.rsa_pem.strip())),
    ("RS256 header with an HMAC signature", lambda e: e.hs(js({"alg": "RS256"}), e.body)),
    ("ES256 header with an HMAC signature", lambda e: e.hs(js({"alg": "ES256"}), e.body)),
    ("kid ../../dev/null with an empty key", lambda e: e.hs(js({"alg": "HS256", "kid": "../../dev/null"}), e.body, b"")),
    ("kid /dev/null", lambda e: e.hs(js({"alg": "HS256", "kid": "/dev/null"}), e.body, b"")),
    ("kid SQL injection", lambda e: e.hs(js({"alg": "HS256", "kid": "' UNION SELECT 'key' --"}), e.body, b"")),
    ("kid SQL injection signed with its result", lambda e: e.hs(js({"alg": "HS256", "kid": "x' UNION SELECT 'key"}), e.body, b"key")),
    ("kid command injection", lambda e: e.hs(js({"alg": "HS256", "kid": "|cat /etc/passwd"}), e.body, b"")),
    ("kid as an object", lambda e: e.hs(b'{"alg":"HS256","kid":{"$ne":null}}', e.body)),
    ("kid of 5000 characters", lambda e: e.hs(js({"alg": "HS256", "kid": "k" * 5000}), e.body)),
    ("embedded jwk", lambda e: jwt.encode(claims(sub=e.victim.user, org=e.victim.org), e.rsa_private, algorithm="RS256",
                                          headers={"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "kid": "attacker"})),
    ("jku pointing elsewhere", lambda e: e.hs(js({"alg": "HS256", "jku": "http://127.0.0.1:1/jwks.json"}), e.body, b"")),
    ("x5u pointing elsewhere", lambda e: e.hs(js({"alg": "HS256", "x5u": "http://127.0.0.1:1/cert.pem"}), e.body, b"")),
    ("crit header", lambda e: e.hs(js({"alg": "HS256", "crit": ["exp"]}), e.body)),
    ("duplicated alg", lambda e: e.hs(b'{"alg":"none","alg":"HS256"}', e.body)),
    ("duplicated sub", lambda e: e.hs(HS, e.claims_text(f',"sub":"{uuid.uuid4()}","exp":{e.now + 600}'))),
    ("duplicated role", lambda e: e.hs(HS, e.claims_text(f',"role":"member","role":"admin","exp":{e.now + 600}'))),
    ("duplicated exp", lambda e: e.hs(HS, e.claims_text(f',"exp":{e.now - 10000},"exp":{e.now + 600}'))),
    ("duplicated name through an escape", lambda e: e.hs(HS, e.claims_text(f',"r\\u006fle":"admin","role":"member","exp":{e.now + 600}'))),
    ("exp as a string", lambda e: e.hs(HS, js({**e.base, "exp": str(e.now + 600)}))),
    ("exp as a bool", lambda e: e.hs(HS, js({**e.base, "exp": True}))),
    ("exp null", lambda e: e.hs(HS, js({**e.base, "exp": None}))),
    ("exp 1e300", lambda e: e.hs(HS, e.claims_text(',"exp":1e300'))),
    ("exp of 400 digits", lambda e: e.hs(HS, e.claims_text(',"exp":' + "9" * 400))),
    ("exp in the past", lambda e: e.hs(HS, js({**e.base, "exp": e.now - 3600}))),
    ("nbf as a string", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "nbf": "0"}))),
    ("role as an array", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "role": ["admin"]}))),
    ("role root", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "role": "root"}))),
    ("sub with a path", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "sub": "../" + e.victim.user}))),
    ("org SQL injection", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "org": "' OR 1=1 --"}))),
    ("aud array without ours", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "aud": ["x", "y"]}))),
    ("nested array bomb in a claim", lambda e: e.hs(HS, e.claims_text(f',"exp":{e.now + 600},"x":' + "[" * 3000 + "]" * 3000))),
    ("nested object bomb in a claim", lambda e: e.hs(HS, e.claims_text(f',"exp":{e.now + 600},"x":' + '{"a":' * 2000 + "1" + "}" * 2000))),
    ("nested bomb in the header", lambda e: e.hs(b'{"alg":"HS256","x":' + b"[" * 3000 + b"]" * 3000 + b"}", e.body)),
    ("huge payload, 7 KB, validly signed, bad role", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "pad": "p" * 5000, "role": "root"}))),
    ("huge payload, 12 KB, validly signed", lambda e: e.hs(HS, js({**e.base, "exp": e.now + 600, "pad": "p" * 9000}))),
    ("huge payload, 60 KB", lambda e: e.hs(HS, js({"pad": "p" * 45000}))),
    ("lone surrogate escape", lambda e: e.hs(HS, e.claims_text(f',"exp":{e.now + 600},"x":"\\ud800"'))),
    ("payload not an object", lambda e: e.hs(HS, b'["sub","org"]')),
    ("trailing garbage after the JSON", lambda e: e.hs(HS, e.body + b"garbage")),
    ("padded base64", lambda e: e.h + "=." + e.p + "." + e.s),
    ("standard base64 alphabet", lambda e: e.h.replace("-", "+").replace("_", "/") + "." + e.p + "." + e.s.replace("-", "+").replace("_", "/") + "+"),
    ("signature stripped", lambda e: e.h + "." + e.p + "."),
    ("four parts", lambda e: e.good + ".x"),
    ("space inside", lambda e: e.h + ". " + e.p + "." + e.s),
    ("tampered payload with the old signature", lambda e: e.h + "." + b64(e.body) + "." + e.s),
    ("empty", lambda e: ""),
    ("dots only", lambda e: ".."),
]


@pytest.fixture(scope="module")
def env(stack, keys, ctx):
    return Env(stack, keys, ctx.victim)


@pytest.mark.parametrize("label,make", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_jwt_forgery_is_refused(stack, ctx, env, label, make):
    # 401 JSON with WWW-Authenticate on the API; 404 on the download route; never the victim's data or rights.
    token = make(env)
    auth = [("Authorization", "Bearer " + token)]
    check(raw(stack, "GET", "/api/v1/storage/quota", auth), 401, code="unauthorized")
    check(raw(stack, "GET", f"/api/v1/storage/objects/{ctx.file['object_name']}/metadata", auth), 401, forbid=ctx.forbid)
    check(raw(stack, "POST", "/api/v1/storage/quota/recalculate", auth), 401, forbid=ctx.forbid)
    check(raw(stack, "GET", DOWNLOAD + "?objectKey=" + q(ctx.file["object_key"]), auth), 404, forbid=ctx.forbid)


@pytest.mark.parametrize("header", [
    b"Basic dXNlcjpwYXNz", b"Bearer", b"Bearer ", b"Bearer  ", b"bearer", b"Token abc", b"Bearer a b c",
    b"Bearer \xff\xfe", b"Bearer abc\x01def", "Bearer " + "A" * 20000,
])
def test_malformed_authorization_headers(ctx, header):
    # Not a Bearer token: 401 (or nginx's 400 for bytes it refuses), never 5xx.
    r = raw(ctx.stack, "GET", "/api/v1/storage/quota", [("Authorization", header)])
    check(r, {400, 401})


def test_two_authorization_headers(ctx):
    # A forged and a valid header together: never the forged identity, never a 5xx.
    forged = b64(js({"alg": "none"})) + "." + b64(js(claims(sub=ctx.victim.user, org=ctx.victim.org))) + "."
    for pair in ([forged, ctx.attacker.token], [ctx.attacker.token, forged]):
        r = raw(ctx.stack, "GET", "/api/v1/storage/files", [("Authorization", "Bearer " + t) for t in pair])
        check(r, {200, 400, 401}, forbid=ctx.forbid)


# -- 8. signed links -------------------------------------------------------------------------

def presigned(client, f, **params):
    r = client.get(f"/api/v1/storage/objects/{f['object_name']}/presigned-url", params=params)
    assert r.status_code == 200, r.text
    return r.json()["url"]


def split_link(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path, urllib.parse.parse_qsl(parts.query, keep_blank_values=True)


def join_link(path, pairs, raw_pairs=False):
    return path + "?" + "&".join(f"{k}={v if raw_pairs else q(v)}" for k, v in pairs)


def tamper(pairs, name, fn):
    return [(k, fn(v) if k == name else v) for k, v in pairs]


def flip(c):
    return "B" if c != "B" else "C"


# (label, how the query pairs change, expected). "Same link, other spelling" cases
# may be honoured (the MAC covers the key, type and expiry, not their spelling);
# anything that changes what was signed must be 404.
LINK_TAMPERING = [
    ("another file's key", lambda pairs, c: tamper(pairs, "objectKey", lambda v: c.files[1]["object_key"]), 404),
    ("key upper-cased", lambda pairs, c: tamper(pairs, "objectKey", str.upper), 404),
    ("key with ../", lambda pairs, c: tamper(pairs, "objectKey", lambda v: v.rsplit("/", 1)[0] + "/../" + v.rsplit("/", 1)[1]), 404),
    ("key with a trailing NUL", lambda pairs, c: tamper(pairs, "objectKey", lambda v: v + "\x00"), 404),
    ("key with a trailing slash", lambda pairs, c: tamper(pairs, "objectKey", lambda v: v + "/"), 404),
    ("type inline", lambda pairs, c: tamper(pairs, "type", lambda v: "inline"), 404),
    ("expires + 1", lambda pairs, c: tamper(pairs, "expires", lambda v: str(int(v) + 1)), 404),
    ("expires far in the future", lambda pairs, c: tamper(pairs, "expires", lambda v: "99999999999"), 404),
    ("expires negative", lambda pairs, c: tamper(pairs, "expires", lambda v: "-" + v), 404),
    ("expires not a number", lambda pairs, c: tamper(pairs, "expires", lambda v: v + "x"), 404),
    ("expires overflowing int64", lambda pairs, c: tamper(pairs, "expires", lambda v: "9" * 30), 404),
    ("signature's first character", lambda pairs, c: tamper(pairs, "signature", lambda v: flip(v[0]) + v[1:]), 404),
    ("signature truncated", lambda pairs, c: tamper(pairs, "signature", lambda v: v[:-4]), 404),
    ("signature extended", lambda pairs, c: tamper(pairs, "signature", lambda v: v + "AAAA"), 404),
    ("signature padded", lambda pairs, c: tamper(pairs, "signature", lambda v: v + "="), 404),
    ("signature in the standard alphabet", lambda pairs, c: tamper(pairs, "signature", lambda v: v.replace("-", "+").replace("_", "/") + "+/"), 404),
    ("signature empty", lambda pairs, c: tamper(pairs, "signature", lambda v: ""), 404),
    ("signature dropped", lambda pairs, c: [(k, v) for k, v in pairs if k != "signature"], 404),
    ("expires dropped", lambda pairs, c: [(k, v) for k, v in pairs if k != "expires"], 404),
    ("signature of another link", lambda pairs, c: tamper(pairs, "signature", lambda v: dict(split_link(presigned(c.victim, c.files[1]))[1])["signature"]), 404),
    ("signature as hex", lambda pairs, c: tamper(pairs, "signature", lambda v: base64.urlsafe_b64decode(v + "=").hex()), 404),
    ("forged expires and signature first", lambda pairs, c: [("expires", "99999999999"), ("signature", "A" * 43)] + pairs, 404),
    # Other spellings of the same signed values.
    ("type dropped (attachment is the default)", lambda pairs, c: [(k, v) for k, v in pairs if k != "type"], {200, 404}),
    ("expires with a leading zero", lambda pairs, c: tamper(pairs, "expires", lambda v: "0" + v), {200, 404}),
    ("expires with a plus sign", lambda pairs, c: tamper(pairs, "expires", lambda v: "+" + v), {200, 404}),
    ("forged expires and signature after the real ones", lambda pairs, c: pairs + [("expires", "99999999999"), ("signature", "A" * 43)], {200, 404}),
]


@pytest.fixture(scope="module")
def victim_link(ctx):
    return split_link(presigned(ctx.victim, ctx.file))


@pytest.mark.parametrize("label,change,expected", LINK_TAMPERING, ids=[c[0] for c in LINK_TAMPERING])
def test_signed_link_tampering(ctx, victim_link, label, change, expected):
    # Each part of the victim's own link changed, with and without a stranger's token.
    path, pairs = victim_link
    target = join_link(path, change(pairs, ctx))
    for headers in ([], bearer(ctx.attacker)):
        r = raw(ctx.stack, "GET", target, headers)
        if r.status_code == 200:
            check(r, expected)
            assert r.content == ctx.marker + b"-0"  # the very file that was signed, nothing else
        else:
            check(r, expected, forbid=ctx.forbid)


def test_untampered_link_works(ctx, victim_link):
    # Control for the cases above: the link as issued downloads the file.
    path, pairs = victim_link
    r = raw(ctx.stack, "GET", join_link(path, pairs))
    check(r, 200)
    assert r.content == ctx.marker + b"-0"


def test_signed_link_is_useless_after_expiry(ctx):
    # expires_in=1, wait 2 s: the exact URL is now 404 (GET and HEAD), with and without a stranger's token.
    url = presigned(ctx.victim, ctx.file, expires_in=1)
    path, pairs = split_link(url)
    time.sleep(2.2)
    for method in ("GET", "HEAD"):
        for headers in ([], bearer(ctx.attacker)):
            check(raw(ctx.stack, method, join_link(path, pairs), headers), 404, forbid=ctx.forbid, method=method)


def test_signed_link_is_useless_after_the_file_is_deleted(ctx):
    # Replay after delete: the link's signature still verifies, but there is no file to serve.
    r = ctx.attacker.upload("short-lived.txt", b"short-lived", content_type="text/plain")
    check(r, 201)
    f = r.json()
    path, pairs = split_link(presigned(ctx.attacker, f, expires_in=604800))
    check(raw(ctx.stack, "GET", join_link(path, pairs)), 200)
    check(ctx.attacker.delete(f"/api/v1/storage/objects/{f['object_name']}"), 204)
    for method in ("GET", "HEAD"):
        check(raw(ctx.stack, method, join_link(path, pairs)), 404, method=method)
    check(raw(ctx.stack, "GET", DOWNLOAD + "?objectKey=" + q(f["object_key"]), bearer(ctx.attacker)), 404)


def test_a_link_cannot_be_made_for_someone_elses_file(ctx):
    # presigned-url with the victim's name or key as the outsider or the colleague: 404, no URL.
    for caller in (ctx.attacker, ctx.colleague):
        for segment in (q(ctx.file["object_name"]), q(ctx.file["object_key"])):
            r = raw(ctx.stack, "GET", f"/api/v1/storage/objects/{segment}/presigned-url?expires_in=604800", bearer(caller))
            check(r, 404, forbid=ctx.forbid)


# -- 9. header injection through file names -----------------------------------------------

INJECTION_NAMES = {
    "form-escaped CR LF": ("filename", "evil%0D%0ASet-Cookie: a=b%0D%0A%0D%0A<script>.html"),
    "filename* CR LF": ("filename*", "evil\r\nSet-Cookie: a=b\r\nX-Injected: 1\r\n\r\n.html"),
    "filename* bare LF": ("filename*", "evil\nLocation: http://evil.example/\n.txt"),
    "filename* bare CR": ("filename*", "evil\rX-Injected: 1.txt"),
    "quote break-out": ("filename", 'a%22; filename=%22evil.html'),
    "filename* quote and semicolon": ("filename*", 'a"; filename="evil.html"; x=".txt'),
    "unicode line separators": ("filename*", "a\u2028b\u2029c\u0085d.txt"),
    "tab": ("filename*", "a\tb.txt"),
    "header-like text": ("filename*", "Content-Type: text/html; charset=utf-7.txt"),
    "percent sequences": ("filename*", "%0d%0a%22%00.txt"),
    "bidi override": ("filename*", "invoice\u202efdp.exe"),
}


def upload_with_name(client, stack, kind, name, data=b"injection", ctype="text/html"):
    if kind == "filename*":
        disposition = f"form-data; name=\"file\"; filename=\"x.bin\"; filename*=UTF-8''{q(name)}"
    else:
        disposition = f'form-data; name="file"; filename="{name}"'
    content_type, body = multipart([([f"Content-Disposition: {disposition}", f"Content-Type: {ctype}"], data)])
    return raw(stack, "POST", UPLOAD, bearer(client) + [("Content-Type", content_type)], body)


@pytest.mark.parametrize("label", list(INJECTION_NAMES))
def test_file_names_never_inject_headers(ctx, label):
    # Download through a signed link and through the bearer token, GET and HEAD, attachment and inline:
    # exactly one Content-Disposition, printable ASCII only, and only the expected header names.
    kind, name = INJECTION_NAMES[label]
    r = upload_with_name(ctx.attacker, ctx.stack, kind, name)
    check(r, 201)
    f = r.json()
    expected_name = name
    if kind == "filename":  # the HTML form escapes are decoded, nothing else
        expected_name = name.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
    expected_name = re.split(r"[/\\]", expected_name)[-1]  # a client path keeps only its last part
    assert f["original_filename"] == expected_name
    assert ctx.attacker.get(f"/api/v1/storage/objects/{f['object_name']}/metadata").json()["original_filename"] == expected_name
    targets = [(presigned(ctx.attacker, f), []), (presigned(ctx.attacker, f, type="inline"), []),
               (DOWNLOAD + "?objectKey=" + q(f["object_key"]), bearer(ctx.attacker))]
    for url, headers in targets:
        path_query = url[url.index("/api/"):] if "://" in url else url
        for method in ("GET", "HEAD"):
            d = raw(ctx.stack, method, path_query, headers)
            check(d, 200, method=method)
            names = [n.lower() for n, _ in d.header_list]
            assert set(names) <= KNOWN_HEADERS, names
            assert names.count("content-disposition") == 1, d.head
            value = d.header("Content-Disposition")
            assert all(0x20 <= ord(ch) < 0x7F for ch in value), repr(value)
            assert re.fullmatch(r"(attachment|inline); filename=\"[\x20\x21\x23-\x5b\x5d-\x7e]*\"; "
                                r"filename\*=UTF-8''(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})+", value), value
            exact = urllib.parse.unquote(value.split("filename*=UTF-8''", 1)[1], errors="strict")
            assert exact == expected_name
            assert d.header("X-Content-Type-Options") == "nosniff"
            assert d.headers("Set-Cookie") == [] and d.headers("X-Injected") == [] and d.headers("Location") == []
            # The header block itself has only CRLF line ends, each line "Name: value".
            assert b"\n" not in d.head.replace(b"\r\n", b"") and b"\r" not in d.head.replace(b"\r\n", b"")
            if method == "GET":
                assert d.content == b"injection"


def test_upload_answer_headers_are_clean(ctx):
    # The upload's own answer (Location) is built from the sanitized name, never from the raw one.
    r = upload_with_name(ctx.attacker, ctx.stack, "filename*", "x\r\nSet-Cookie: a=b.txt")
    check(r, 201)
    assert set(n.lower() for n, _ in r.header_list) <= KNOWN_HEADERS, r.header_list
    location = r.header("Location")
    assert location and re.fullmatch(r"/api/v1/storage/objects/[A-Za-z0-9._-]+/metadata", location), location


# -- 10. resumable uploads (tus) ---------------------------------------------------------

UPLOADS = "/api/v1/storage/uploads"
TUS = [("Tus-Resumable", "1.0.0")]
B64_NAME = base64.b64encode(b"h.txt").decode()

CREATION_CASES = [
    ("no length", [("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("negative length", [("Upload-Length", "-1"), ("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("float length", [("Upload-Length", "1.5"), ("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("exponent length", [("Upload-Length", "1e3"), ("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("hex length", [("Upload-Length", "0x10"), ("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("overflowing length", [("Upload-Length", "99999999999999999999"), ("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("huge length", [("Upload-Length", "999999999999999999"), ("Upload-Metadata", "filename " + B64_NAME)], 413),
    ("zero length", [("Upload-Length", "0"), ("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("deferred length", [("Upload-Defer-Length", "1"), ("Upload-Metadata", "filename " + B64_NAME)], 400),
    ("duplicate lengths", [("Upload-Length", "5"), ("Upload-Length", "6"), ("Upload-Metadata", "filename " + B64_NAME)], {201, 400}),
    ("no metadata", [("Upload-Length", "5")], 400),
    ("metadata key only", [("Upload-Length", "5"), ("Upload-Metadata", "filename")], 400),
    ("metadata not base64", [("Upload-Length", "5"), ("Upload-Metadata", "filename !!!")], 400),
    ("metadata key twice", [("Upload-Length", "5"), ("Upload-Metadata", f"filename {B64_NAME},filename {B64_NAME}")], 400),
    ("metadata control character", [("Upload-Length", "5"), ("Upload-Metadata", "filename " + base64.b64encode(b"a\nb").decode())], 400),
    ("metadata NUL", [("Upload-Length", "5"), ("Upload-Metadata", "filename " + base64.b64encode(b"a\x00").decode())], 400),
    ("metadata three pieces", [("Upload-Length", "5"), ("Upload-Metadata", f"filename {B64_NAME} x")], 400),
    ("metadata 5000 bytes", [("Upload-Length", "5"), ("Upload-Metadata", "filename " + "A" * 5000)], 400),
    ("traversal filename", [("Upload-Length", "5"), ("Upload-Metadata", "filename " + base64.b64encode(b"../../etc/passwd").decode())], 201),
    ("bad category", [("Upload-Length", "5"), ("Upload-Metadata", f"filename {B64_NAME},category " + base64.b64encode(b"root").decode())], 422),
]


@pytest.mark.parametrize("label,headers,expected", CREATION_CASES, ids=[c[0] for c in CREATION_CASES])
def test_resumable_creation_corpus(ctx, label, headers, expected):
    r = check(raw(ctx.stack, "POST", UPLOADS, bearer(ctx.attacker) + TUS + headers), expected, stack=ctx.stack, method="POST")
    if r.status_code == 201:
        # Whatever the client named it, the key stays in the caller's folder.
        location = r.header("Location")
        info = ctx.attacker.get(location[len(ctx.stack.base_url):]).json()
        assert info["offset"] == 0 and info["file"] is None


def test_resumable_creation_without_the_tus_version(ctx):
    for version in (None, "0.2.2", "1.0.0 ", "1.0.1"):
        headers = [("Upload-Length", "5"), ("Upload-Metadata", "filename " + B64_NAME)]
        if version is not None:
            headers.append(("Tus-Resumable", version))
        r = check(raw(ctx.stack, "POST", UPLOADS, bearer(ctx.attacker) + headers), {412, 201}, method="POST")
        if version != "1.0.0 ":  # nginx trims trailing spaces of header values
            assert r.status_code == 412 and r.header("Tus-Version") == "1.0.0", (version, r)


@pytest.fixture
def victim_upload(ctx):
    r = raw(ctx.stack, "POST", UPLOADS, bearer(ctx.victim) + TUS + [("Upload-Length", "100"),
                                                                     ("Upload-Metadata", "filename " + B64_NAME)])
    assert r.status_code == 201, r
    return r.header("Location")[len(ctx.stack.base_url):]


PATCH_CASES = [
    ("negative offset", [("Upload-Offset", "-1")], 400),
    ("overflowing offset", [("Upload-Offset", "99999999999999999999")], 400),
    ("huge offset", [("Upload-Offset", "999999999999999999")], 409),
    ("text offset", [("Upload-Offset", "abc")], 400),
    ("empty offset", [("Upload-Offset", "")], 400),
    ("no offset", [], 400),
    ("duplicate offsets", [("Upload-Offset", "0"), ("Upload-Offset", "7")], {204, 400, 409}),
    ("checksum without digest", [("Upload-Offset", "0"), ("Upload-Checksum", "sha256")], 400),
    ("unknown checksum", [("Upload-Offset", "0"), ("Upload-Checksum", "sha512 " + base64.b64encode(b"x" * 64).decode())], 400),
    ("checksum not base64", [("Upload-Offset", "0"), ("Upload-Checksum", "sha1 ***")], 400),
    ("checksum short", [("Upload-Offset", "0"), ("Upload-Checksum", "sha1 " + base64.b64encode(b"x" * 19).decode())], 400),
    ("wrong checksum", [("Upload-Offset", "0"), ("Upload-Checksum", "sha1 " + base64.b64encode(b"x" * 20).decode())], 460),
]


@pytest.mark.parametrize("label,headers,expected", PATCH_CASES, ids=[c[0] for c in PATCH_CASES])
def test_resumable_patch_corpus(ctx, victim_upload, label, headers, expected):
    body = b"0123456789"
    r = check(raw(ctx.stack, "PATCH", victim_upload, bearer(ctx.victim) + TUS + [("Content-Type", "application/offset+octet-stream")]
                  + headers, body=body), expected, method="PATCH")
    offset = raw(ctx.stack, "HEAD", victim_upload, bearer(ctx.victim) + TUS).header("Upload-Offset")
    assert offset == ("10" if r.status_code == 204 else "0"), (label, offset)


def test_resumable_routes_refuse_other_methods_with_405(ctx, victim_upload):
    # Judged by the admission (before any body): 405 JSON with the route's methods.
    for target, allowed in ((UPLOADS, "OPTIONS, POST"), (victim_upload, "OPTIONS, HEAD, GET, PATCH, DELETE")):
        for method in ("PUT", "QUERY", "PROPFIND"):
            r = check(raw(ctx.stack, method, target, bearer(ctx.victim) + TUS, body=b"x"), 405, method=method)
            assert r.header("Allow") == allowed, (method, target, r.header("Allow"))


def test_resumable_uploads_of_others_do_not_exist(ctx, victim_upload):
    # The outsider, a colleague, an altered token and an altered id: 404 or 401, never the upload.
    for client in (ctx.attacker, ctx.colleague):
        for method in ("HEAD", "GET", "PATCH", "DELETE"):
            headers = bearer(client) + TUS + ([("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "0")]
                                               if method == "PATCH" else [])
            r = raw(ctx.stack, method, victim_upload, headers, body=b"x" if method == "PATCH" else b"")
            check(r, 404, forbid=ctx.forbid, method=method)
    token = ctx.victim.token
    altered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    check(raw(ctx.stack, "GET", victim_upload, [("Authorization", "Bearer " + altered)]), 401)
    victim_id = victim_upload.rsplit("/", 1)[1]
    other_id = victim_id[:-1] + ("0" if victim_id[-1] != "0" else "1")
    check(raw(ctx.stack, "GET", UPLOADS + "/" + other_id, bearer(ctx.victim)), 404)
    for target in (UPLOADS + "/..%2f..%2fquota", UPLOADS + "/%00", UPLOADS + "/" + "a" * 5000, UPLOADS + "/" + victim_id + "/x"):
        check(raw(ctx.stack, "GET", target, bearer(ctx.victim)), {400, 404, 414})
    # The victim's upload is untouched.
    r = raw(ctx.stack, "HEAD", victim_upload, bearer(ctx.victim) + TUS)
    assert r.status_code == 200 and r.header("Upload-Offset") == "0"


# -- slow clients ------------------------------------------------------------------
# Each holds what a slow client can hold (a connection, an upload slot, an
# upload worker) while the API pool is asked to answer; each is cut off or
# refused in bounded time, in JSON where it still listens, and leaves nothing.

def upload_head(stack, token, length, boundary="slowclient"):
    return (f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\nConnection: close\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def read_answer(sock, timeout):
    """The status and body of the answer on `sock` (None if it closed without one)."""
    sock.settimeout(timeout)
    try:
        first = sock.recv(65536)
    except (ConnectionResetError, socket.timeout):
        first = b""
    if not first:
        return None, b""
    return read_answer_rest(sock, first)


def api_answers(client):
    """The API pool answers a short request (a hang fails via the timeout)."""
    r = requests.get(client.url("/api/v1/storage/quota"), headers=client.headers, timeout=10)
    assert r.status_code == 200, r.text


@pytest.fixture
def slow_stack(fresh_stack):
    # A 2 s window so the trickle is judged quickly (production: 30 s).
    return fresh_stack(extra_config="[uploads]\nmin_bytes_per_second = 64\nslow_client_window_seconds = 2\n")


def test_body_trickled_at_one_byte_per_second_is_cut_off(slow_stack):
    # nginx's idle timeout never fires for a trickle; the worker's minimum
    # rate does: 400 upload_too_slow, and the API pool answered all along.
    client = Client(slow_stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    sock = socket.create_connection(("127.0.0.1", slow_stack.port), timeout=TIMEOUT)
    try:
        sock.sendall(upload_head(slow_stack, client.token, 10_000))
        sock.sendall(b"--slowclient\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.bin\"\r\n\r\n")
        started = time.time()
        sock.settimeout(0.05)
        status, body = None, b""
        while time.time() - started < TIMEOUT:
            try:
                sock.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                break
            api_answers(client)
            try:
                got = sock.recv(65536)
            except socket.timeout:
                time.sleep(1)
                continue
            status, body = read_answer_rest(sock, got)
            break
    finally:
        sock.close()
    assert status == 400, (status, body)
    doc = json.loads(body)
    assert doc["error"]["code"] == "upload_too_slow", doc
    assert reservations(slow_stack, client.org) == []
    assert client.upload("after.bin", b"after").status_code == 201


def read_answer_rest(sock, first):
    data = first
    sock.settimeout(5)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_request_heads_that_never_end_are_cut_off(ctx):
    # 50 connections send a header byte by byte and never finish it: the API
    # pool answers meanwhile, and nginx drops each within its 15 s header
    # timeout, without an answer a client could mistake for a success.
    socks = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", ctx.stack.port), timeout=TIMEOUT)
            s.sendall(b"GET /api/v1/storage/quota HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            socks.append(s)
        started = time.time()
        while time.time() - started < 3:
            for s in socks:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            api_answers(ctx.attacker)
            time.sleep(0.5)
        for s in socks:
            status, _ = read_answer(s, timeout=30)
            assert status in (None, 400, 408), status
        assert time.time() - started < 30
    finally:
        for s in socks:
            s.close()
    api_answers(ctx.attacker)


def test_two_hundred_stalled_uploads_never_starve_the_api_pool(fresh_stack):
    # 200 connections each send an upload's head (1 MiB announced) and no
    # body. At most the upload slots take them (the rest: 429 JSON at once);
    # the taken ones hold upload workers, never API workers, and are cut off
    # by nginx's body timeout; nothing they started is left behind.
    stack = fresh_stack(upload_slots=8)
    client = Client(stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    socks = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", stack.port), timeout=TIMEOUT)
            s.sendall(upload_head(stack, client.token, 1 << 20))
            socks.append(s)
        for _ in range(5):
            api_answers(client)
            r = requests.get(client.url("/api/v1/storage/files"), headers=client.headers, timeout=10)
            assert r.status_code == 200, r.text
        refused = 0
        for s in socks:
            s.settimeout(0.2)
            try:
                first = s.recv(65536)
            except socket.timeout:
                continue
            status, body = read_answer_rest(s, first)
            assert status == 429, (status, body)
            assert json.loads(body)["error"]["code"] == "too_many_uploads"
            refused += 1
        assert refused >= 200 - 8, refused
    finally:
        for s in socks:
            s.close()
    deadline = time.time() + 20
    while reservations(stack, client.org) and time.time() < deadline:
        time.sleep(0.2)
    assert reservations(stack, client.org) == []
    assert client.upload("after.bin", b"after").status_code == 201
