"""Signed upload links through real nginx, workers, SQLite and SeaweedFS: a
user makes a link; anyone holding it uploads one file as that user, without
a token, bound to the link's category and size; a spent, expired, revoked or
altered link is 401 and stores nothing; the token appears in no log.
"""
import os
import time

import requests

from conftest import Client, assert_error, set_plan, store_keys
from depotctl_cli import run_json

LINKS = "/api/v1/storage/upload-urls"
MiB = 1 << 20


def make_link(client, **fields):
    r = client.post(LINKS, json=fields)
    assert r.status_code == 201, r.text
    return r.json()


def upload(url, data, filename="via-link.txt", content_type="text/plain", **fields):
    return requests.post(url, files={"file": (filename, data, content_type)}, data=fields, timeout=60)


def test_a_link_uploads_one_file_as_its_maker(stack):
    owner = Client(stack)
    link = make_link(owner, expires_in=600)
    assert link["url"].startswith(stack.base_url + "/api/v1/storage/upload?upload_token=")
    assert link["expires_in"] == 600 and link["max_size"] > 0 and link["id"]
    r = upload(link["url"], b"hello from a partner")
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["object_key"].startswith(f"organizations/{owner.org}/files/{owner.user}/")
    # The file is the maker's, counted against their organization.
    listed = owner.get("/api/v1/storage/files").json()["files"]
    assert [x["id"] for x in listed] == [f["id"]]
    assert owner.get("/api/v1/storage/usage").json()["used_bytes"] == len(b"hello from a partner")
    # Single use.
    assert_error(upload(link["url"], b"again"), 401)
    assert len(owner.get("/api/v1/storage/files").json()["files"]) == 1
    # Revoking a used link says so.
    assert_error(owner.delete(f"{LINKS}/{link['id']}"), 409, "upload_link_used")


def test_category_and_size_bind(stack):
    owner = Client(stack)
    link = make_link(owner, category="data_source", max_size=1000)
    assert link["max_size"] == 1000
    # More than the plan allows: the link allows what the plan does.
    assert make_link(owner, category="profile_image", max_size=1 << 40)["max_size"] == 5 * MiB
    assert_error(upload(link["url"], b"x" * 1001), 413)
    assert_error(upload(link["url"], b"a,b\n", category="general"), 422, "invalid_category")
    r = upload(link["url"], b"a,b\n1,2\n", filename="d.csv", content_type="text/csv")
    assert r.status_code == 201, r.text
    assert r.json()["category"] == "data_source"


def test_refused_links_store_nothing(stack):
    owner = Client(stack)
    revoked = make_link(owner)
    assert owner.delete(f"{LINKS}/{revoked['id']}").status_code == 204
    assert_error(owner.delete(f"{LINKS}/{revoked['id']}"), 404)
    assert_error(upload(revoked["url"], b"x"), 401)
    expired = make_link(owner, expires_in=1)
    time.sleep(2.1)
    assert_error(upload(expired["url"], b"x"), 401)
    good = make_link(owner)
    token = good["url"].split("upload_token=")[1]
    for altered in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:-2], token + "A", "x" * 64, ""):
        assert_error(upload(stack.base_url + "/api/v1/storage/upload?upload_token=" + altered, b"x"), 401)
    # Refused before the body with Expect: 100-continue too (nginx's admission).
    r = requests.post(revoked["url"], data=b"x" * 1000, headers={"Content-Type": "multipart/form-data; boundary=b",
                                                                 "Expect": "100-continue"}, timeout=30)
    assert_error(r, 401)
    assert owner.get("/api/v1/storage/files").json()["files"] == []
    assert not store_keys(stack, f"organizations/{owner.org}/")
    # The good link still works after all that.
    assert upload(good["url"], b"finally").status_code == 201
    # Another user cannot revoke someone's link.
    other = Client(stack)
    link = make_link(owner)
    assert_error(other.delete(f"{LINKS}/{link['id']}"), 404)


def test_link_requests_are_validated(stack):
    owner = Client(stack)
    for body, status in (({"expires_in": 0}, 400), ({"expires_in": 86401}, 400), ({"expires_in": "60"}, 400),
                         ({"expires_in": True}, 400), ({"max_size": 0}, 400), ({"max_size": None}, 400), ({"max_size": 1.5}, 400),
                         ({"category": "nope"}, 422), ({"colour": "red"}, 400)):
        assert_error(owner.post(LINKS, json=body), status)
    r = owner.post(LINKS, data=b"[1,2]", headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    assert_error(requests.post(stack.base_url + LINKS, json={}, timeout=10), 401)


def test_quota_binds_a_link_upload(stack):
    owner = Client(stack)
    owner.get("/api/v1/storage/quota")
    set_plan(stack, owner.org, "tiny")  # 1 MiB quota, 512 KiB per file
    link = make_link(owner)
    assert link["max_size"] == 512 * 1024
    assert_error(upload(link["url"], os.urandom(600 * 1024)), 413)
    assert upload(link["url"], os.urandom(100 * 1024)).status_code == 201


def test_tokens_never_reach_a_log(stack):
    owner = Client(stack)
    link = make_link(owner)
    token = link["url"].split("upload_token=")[1]
    assert upload(link["url"], b"logged?").status_code == 201
    upload(link["url"], b"refused")  # a 401, which is logged too
    for name in os.listdir(stack.path("logs")):
        with open(stack.path("logs", name), "rb") as f:
            assert token.encode() not in f.read(), name


def test_gc_forgets_expired_links_and_keeps_their_files(stack):
    owner = Client(stack)
    used, unused, live = make_link(owner, expires_in=5), make_link(owner, expires_in=5), make_link(owner, expires_in=600)
    assert upload(used["url"], b"brought by a link").status_code == 201
    time.sleep(6)
    dry = run_json(stack, "gc", "--dry-run")
    assert dry["expired_upload_links"] >= 2 and "expired_console_logins" in dry
    run_json(stack, "gc")
    assert run_json(stack, "gc", "--dry-run")["expired_upload_links"] == 0
    # The file stays; the expired links stay refused, the live one works.
    assert [f["original_filename"] for f in owner.get("/api/v1/storage/files").json()["files"]] == ["via-link.txt"]
    assert_error(upload(unused["url"], b"late"), 401)
    assert upload(live["url"], b"in time").status_code == 201
