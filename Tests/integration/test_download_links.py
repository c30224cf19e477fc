"""Signed download links can be listed and revoked (CONTRACT.md, "Download
links can be listed and revoked"): the id in presigned-url, the listing,
revocation, rotation of the link secret with `depotctl keys rotate-links`,
and signed URLs kept out of every log."""
import concurrent.futures
import http.client
import os
import re
import signal
import stat
import time
import urllib.parse
import uuid

import requests

from conftest import Client, assert_error
from depotctl_cli import run as ctl, run_json as ctl_json
from test_depotctl import reload_workers, wait_until

LINKS = "/api/v1/storage/links"


def upload_ok(client, name, data):
    r = client.upload(name, data)
    assert r.status_code == 201, r.text
    return r.json()


def presign(client, f, **query):
    r = client.get(f"/api/v1/storage/objects/{f['object_name']}/presigned-url", params=query)
    assert r.status_code == 200, r.text
    return r.json()


def fetch(url):
    return requests.get(url, timeout=60)


def signature_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["signature"]


def listed(client):
    r = client.get(LINKS)
    assert r.status_code == 200, r.text
    return r.json()["links"]


# ------------------------------------------------------------ list, revoke

def test_presigned_url_answer_carries_the_id_the_listing_shows(stack, client):
    # Each presigned-url answer has an id; GET /links lists the caller's links newest first with key, type and times.
    f = upload_ok(client, f"{uuid.uuid4().hex}.txt", b"listed")
    first = presign(client, f, expires_in=600)
    time.sleep(1.1)
    second = presign(client, f, type="inline")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first["id"])
    assert set(first) == {"id", "url", "expires_at", "expires_in"}
    links = listed(client)
    assert [l["id"] for l in links] == [second["id"], first["id"]]
    assert links[0] == {"id": second["id"], "object_key": f["object_key"], "type": "inline",
                        "expires_at": second["expires_at"], "created_at": links[0]["created_at"]}
    assert links[1]["type"] == "attachment" and links[1]["expires_at"] == first["expires_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", links[0]["created_at"])
    assert "signature" not in str(links) and "url" not in links[0]


def test_listing_shows_only_the_callers_unexpired_links(stack, client):
    # A colleague and another organization see none of them; an expired link drops out of the list.
    f = upload_ok(client, "mine.txt", b"x")
    short = presign(client, f, expires_in=1)
    kept = presign(client, f, expires_in=3600, type="inline")
    assert listed(client.colleague()) == [] and listed(Client(stack)) == []
    time.sleep(2.1)
    assert [l["id"] for l in listed(client)] == [kept["id"]]
    assert short["id"] != kept["id"]


def test_revoked_link_gets_404_on_the_next_request(stack, client):
    # DELETE /links/{id} is 204; that URL then answers 404 JSON while the caller's other links keep working.
    f = upload_ok(client, "revoke.txt", b"revoke me")
    revoked, kept = presign(client, f), presign(client, f, type="inline")
    assert fetch(revoked["url"]).content == b"revoke me"
    r = client.delete(f"{LINKS}/{revoked['id']}")
    assert r.status_code == 204, r.text
    assert_error(fetch(revoked["url"]), 404, "not_found")
    assert fetch(kept["url"]).status_code == 200
    assert [l["id"] for l in listed(client)] == [kept["id"]]
    assert_error(client.delete(f"{LINKS}/{revoked['id']}"), 404, "not_found")


def test_only_the_links_maker_can_revoke_it(stack, client):
    # A colleague, an admin of the organization and another organization get 404; a malformed id is 400.
    f = upload_ok(client, "others.txt", b"others")
    link = presign(client, f)
    for other in (client.colleague(), client.colleague(role="admin"), Client(stack)):
        assert_error(other.delete(f"{LINKS}/{link['id']}"), 404, "not_found")
    assert_error(client.delete(f"{LINKS}/{uuid.uuid4()}"), 404, "not_found")
    for bad in ("not-a-uuid", link["id"][:-1], link["id"] + "0"):
        assert_error(client.delete(f"{LINKS}/{bad}"), 400)
    assert_error(requests.delete(stack.base_url + f"{LINKS}/{link['id']}", timeout=30), 401)
    assert fetch(link["url"]).status_code == 200


def test_deleting_the_file_removes_its_links(stack, client):
    # After DELETE of the file its links are neither listed nor usable.
    f = upload_ok(client, "bye.txt", b"bye")
    link = presign(client, f)
    assert client.delete(f"/api/v1/storage/objects/{f['object_name']}").status_code == 204
    assert listed(client) == []
    assert_error(fetch(link["url"]), 404, "not_found")


# ------------------------------------------------------------ rotate-links

def test_rotate_links_kills_every_link_and_leaves_files_readable(fresh_stack):
    # keys rotate-links: a new 0600 secret, every old link 404 at once (before any reload); the file still downloads
    # with its owner's token; after SIGHUP new links are signed with the new secret and work.
    s = fresh_stack()
    c = Client(s)
    f = upload_ok(c, "kept.bin", os.urandom(50_000))
    old = presign(c, f)
    assert fetch(old["url"]).status_code == 200
    secret_file = s.path("secrets", "link.key")
    before = open(secret_file).read()

    done = ctl(s, "keys", "rotate-links")
    assert done.returncode == 0, done.stderr
    assert "systemctl reload depot" in done.stdout and "1 recorded download link revoked" in done.stdout
    after = open(secret_file).read()
    assert after != before and re.fullmatch(r"[0-9a-f]{64}\n", after)
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    assert not [n for n in os.listdir(s.path("secrets")) if ".tmp-" in n]
    assert_error(fetch(old["url"]), 404, "not_found")
    assert listed(c) == []

    reload_workers(s)
    assert_error(fetch(old["url"]), 404, "not_found")
    r = c.get("/api/v1/objects/download", params={"objectKey": f["object_key"]})
    assert r.status_code == 200 and len(r.content) == 50_000
    new = presign(c, f)
    assert fetch(new["url"]).status_code == 200
    assert signature_of(new["url"]) != signature_of(old["url"])
    assert ctl_json(s, "keys", "rotate-links")["download_links_revoked"] == 1
    assert ctl_json(s, "keys", "status")["current"] == "k1"


def test_init_creates_the_link_secret_and_keeps_it(stack, tmp_path):
    # init creates [encryption] link_secret_file (64 hex, 0600) beside the other secrets; a re-run keeps it.
    config = tmp_path / "depot.conf"
    config.write_text("[database]\npath = depot.sqlite3\n[store]\nendpoint = http://127.0.0.1:1\n"
                      "access_key_file = none\nsecret_key_file = none\n[auth]\nhs256_secret_file = secrets/jwt.key\n"
                      "[encryption]\nmaster_key_file = secrets/master.keys\nlink_secret_file = secrets/link.key\n")
    done = ctl(stack.bin_dir, "init", config=str(config))
    assert done.returncode == 0, done.stderr
    secret = tmp_path / "secrets" / "link.key"
    assert re.fullmatch(r"[0-9a-f]{64}\n", secret.read_text())
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    before = secret.read_text()
    again = ctl(stack.bin_dir, "init", config=str(config))
    assert again.returncode == 0 and "link secret" in again.stdout and secret.read_text() == before


def test_rotate_links_without_a_link_secret_file_is_a_usage_error(fresh_stack, tmp_path):
    # A configuration without [encryption] link_secret_file cannot rotate: exit 2 and a pointer to the setting.
    s = fresh_stack()
    text = open(s.config_path).read()
    config = tmp_path / "depot.conf"
    config.write_text(re.sub(r"(?m)^link_secret_file = .*\n", "", text))
    done = ctl(s, "keys", "rotate-links", config=str(config))
    assert done.returncode == 2 and "link_secret_file" in done.stderr


# ------------------------------------------------------------ logs

def test_signed_urls_never_reach_a_log(fresh_stack):
    # A limit_req refusal of signed downloads, and a store failure during a signed download: the signatures appear
    # in none of nginx's access and error logs nor the workers' output, and nginx still logs the other routes' errors.
    s = fresh_stack(download_rate="1r/s", download_burst=1)
    c = Client(s)
    f = upload_ok(c, "logged.bin", b"secret bytes")
    links = [presign(c, f, expires_in=600 + i)["url"] for i in range(4)]
    signatures = {signature_of(u) for u in links}

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda u: fetch(u).status_code, links * 4))
    assert 429 in statuses and 200 in statuses, statuses

    s._stop_process("weed")
    time.sleep(1.1)  # the rate limit's next slot
    failed = fetch(links[0])
    assert failed.status_code in (502, 503, 504), failed.text
    assert_error(failed, failed.status_code)
    # Other routes keep their error log: an upload announcing more than client_max_body_size is logged there.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    conn.putrequest("POST", "/api/v1/storage/upload")
    conn.putheader("Content-Length", str(7 << 30))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    wait_until(lambda: "client intended to send too large body" in open(s.path("logs", "nginx-error.log")).read(), 10,
               "the upload route's error in nginx's error log")
    logs = {name: s.path("logs", name) for name in ("nginx-access.log", "nginx-error.log", "depot.log")}
    for name, path in logs.items():
        text = open(path, errors="replace").read()
        for sig in signatures:
            assert sig not in text, f"a signature in {name}"
            assert urllib.parse.quote(sig, safe="") not in text, f"a signature in {name}"
        assert "X-Amz-Signature" not in text, f"a presigned store URL in {name}"
        assert "/api/v1/objects/download?" not in text, f"a download query in {name}"
    access = open(logs["nginx-access.log"]).read()
    assert re.search(r'"GET /api/v1/objects/download HTTP/1.1" 429 ', access)
    assert re.search(r'"GET /api/v1/objects/download HTTP/1.1" 50[234] ', access)
