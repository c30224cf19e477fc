"""Usage per member for organization admins (`GET /api/v1/storage/members`)
through real nginx, workers, the database and SeaweedFS: each member's
stored bytes and files, and the room their uploads in progress hold;
members of other organizations never appear; anyone but an admin gets 403.
"""
import base64

import requests

from conftest import Client, assert_error

MEMBERS = "/api/v1/storage/members"


def members(client):
    r = client.get(MEMBERS)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def test_an_admin_sees_each_members_uploads_largest_first(stack):
    first = Client(stack)
    second, admin = first.colleague(), first.colleague(role="admin")
    small, large = b"s" * 1234, b"L" * 54321
    assert first.upload("small.bin", small).status_code == 201
    assert second.upload("large.bin", large).status_code == 201
    assert second.upload("more.bin", b"m" * 10).status_code == 201
    # Someone else's organization, with files of its own.
    assert Client(stack).upload("foreign.bin", b"f" * 99999).status_code == 201

    body = members(admin)
    assert body["members"] == [
        {"user_id": second.user, "used_bytes": len(large) + 10, "file_count": 2, "reserved_bytes": 0},
        {"user_id": first.user, "used_bytes": len(small), "file_count": 1, "reserved_bytes": 0},
    ]
    assert body["truncated"] is False
    assert body["member_quota_bytes"] is None


def test_an_upload_in_progress_counts_as_reserved_until_it_is_terminated(stack):
    member = Client(stack)
    admin = member.colleague(role="admin")
    tus = {"Tus-Resumable": "1.0.0"}
    created = member.post("/api/v1/storage/uploads", headers={
        **tus, "Upload-Length": "7000", "Upload-Metadata": "filename " + base64.b64encode(b"big.bin").decode()})
    assert created.status_code == 201, created.text
    assert members(admin)["members"] == [
        {"user_id": member.user, "used_bytes": 0, "file_count": 0, "reserved_bytes": 7000}]
    gone = requests.delete(created.headers["Location"], headers={**member.headers, **tus}, timeout=30)
    assert gone.status_code == 204
    assert members(admin)["members"] == []


def test_members_is_for_admins_only(stack):
    member = Client(stack)
    assert member.upload("mine.bin", b"x").status_code == 201
    assert_error(member.get(MEMBERS), 403, "forbidden")
    assert_error(requests.get(stack.base_url + MEMBERS, timeout=30), 401, "unauthorized")
