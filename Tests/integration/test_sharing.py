"""Sharing inside an organization through real nginx, workers, the database
and SeaweedFS (CONTRACT.md, "Sharing inside an organization"): private by
default, explicit shares with one member or the whole organization, grantees
read by full key with their own token and do nothing else, revocation holds
on the next request, and nobody outside the organization ever sees a thing.
Also the plan's per-member quota.
"""
import hashlib
import uuid
from urllib.parse import quote

import database_oracle
from conftest import Client, assert_error, set_plan
import depotctl_cli

FILES = "/api/v1/storage/files"


def seen(client):
    """A member becomes known once they used Depot."""
    client.get("/api/v1/storage/quota").raise_for_status()
    return client


def share(client, name_or_key, **body):
    return client.post(f"/api/v1/storage/objects/{quote(name_or_key, safe='')}/shares", json=body)


def metadata(client, key):
    return client.get(f"/api/v1/storage/objects/{quote(key, safe='')}/metadata")


def download(client, key):
    return client.get("/api/v1/objects/download", params={"objectKey": key})


def listed_keys(client, scope, **params):
    r = client.get(FILES, params={"scope": scope, **params})
    assert r.status_code == 200, r.text
    return [f["object_key"] for f in r.json()["files"]]


def test_a_member_shares_with_one_colleague_who_reads_and_downloads_until_revoked(stack):
    owner = seen(Client(stack))
    grantee, bystander = seen(owner.colleague()), seen(owner.colleague())
    data = b"quarterly figures\n" * 1000
    f = owner.upload("figures.csv", data).json()
    key = f["object_key"]
    # Private by default.
    assert_error(metadata(grantee, key), 404, "not_found")
    assert_error(download(grantee, key), 404)

    r = share(owner, f["object_name"], user_id=grantee.user)
    assert r.status_code == 201, r.text
    s = r.json()
    assert set(s) == {"id", "object_key", "shared_with", "created_by", "created_at"}
    assert s["object_key"] == key and s["created_by"] == owner.user
    assert s["shared_with"] == {"user_id": grantee.user, "organization": False}
    assert owner.get(f"/api/v1/storage/objects/{f['object_name']}/shares").json()["shares"] == [s]

    m = metadata(grantee, key)
    assert m.status_code == 200, m.text
    assert m.json()["owner_id"] == owner.user and m.json()["shared"] is True and m.json()["id"] == f["id"]
    d = download(grantee, key)
    assert d.status_code == 200 and hashlib.sha256(d.content).hexdigest() == hashlib.sha256(data).hexdigest()
    assert listed_keys(grantee, "shared") == [key]
    assert listed_keys(grantee, "own") == []
    # The owner's listing marks it shared; nobody else got anything.
    assert owner.get(FILES).json()["files"][0]["shared"] is True
    assert_error(metadata(bystander, key), 404)
    assert_error(download(bystander, key), 404)
    assert listed_keys(bystander, "shared") == []

    # Grantees read and nothing else.
    enc = quote(key, safe="")
    assert_error(grantee.delete(f"/api/v1/storage/objects/{enc}"), 404)
    assert_error(grantee.get(f"/api/v1/storage/objects/{enc}/presigned-url"), 404)
    assert_error(share(grantee, key, user_id=bystander.user), 404)
    assert_error(grantee.delete(f"/api/v1/storage/shares/{s['id']}"), 404)
    assert metadata(owner, key).status_code == 200

    # Revocation holds on the very next request.
    assert owner.delete(f"/api/v1/storage/shares/{s['id']}").status_code == 204
    assert_error(metadata(grantee, key), 404)
    assert_error(download(grantee, key), 404)
    assert listed_keys(grantee, "shared") == []
    assert_error(owner.delete(f"/api/v1/storage/shares/{s['id']}"), 404)


def test_an_organization_wide_share_reaches_every_member_and_no_other_organization(stack):
    owner = seen(Client(stack))
    members = [seen(owner.colleague()) for _ in range(3)]
    key = owner.upload("handbook.pdf", b"%PDF-1.4 handbook").json()["object_key"]
    r = share(owner, key, organization=True)
    assert r.status_code == 201 and r.json()["shared_with"] == {"user_id": None, "organization": True}
    for m in members:
        assert metadata(m, key).status_code == 200
        assert download(m, key).status_code == 200
        assert listed_keys(m, "shared") == [key]
    # Another organization: not its admin, not a user with the same id, not by the key.
    outsider = seen(Client(stack, role="admin"))
    same_id_elsewhere = seen(Client(stack, user=members[0].user))
    for c in (outsider, same_id_elsewhere):
        assert_error(metadata(c, key), 404)
        assert_error(download(c, key), 404)
        assert listed_keys(c, "shared") == []
        assert key not in listed_keys(c, "organization" if c is outsider else "own")
        assert_error(share(c, key, organization=True), 404)
    # Deleting the file ends the share; the key answers 404 to everyone.
    assert owner.delete(f"/api/v1/storage/objects/{quote(key, safe='')}").status_code == 204
    for m in members:
        assert_error(metadata(m, key), 404)
        assert listed_keys(m, "shared") == []


def test_shared_totals_count_each_file_once_through_grants_revocations_and_deletes(stack):
    # A file shared with a member both directly and with everyone is one file to them; their own file shared with
    # everyone is not in their `shared` scope; the totals follow every revocation and deletion.
    owner = seen(Client(stack))
    b, c = seen(owner.colleague()), seen(owner.colleague())
    admin = seen(owner.colleague(role="admin"))
    f1, f2, f3 = (owner.upload(f"f{i}.csv", b"x" * i).json() for i in (1, 2, 3))
    g1 = b.upload("g1.csv", b"b's own\n").json()
    grants = {}
    for who, f, body in ((owner, f1, {"user_id": b.user}), (owner, f1, {"organization": True}), (owner, f2, {"organization": True}),
                         (b, g1, {"organization": True}), (owner, f3, {"user_id": c.user})):
        r = share(who, f["object_name"], **body)
        assert r.status_code == 201, r.text
        grants[(f["object_key"], "organization" in body)] = r.json()["id"]

    def shared(client, **params):
        r = client.get(FILES, params={"scope": "shared", "page_size": 2, **params})
        assert r.status_code == 200, r.text
        total = r.json()["pagination"]["total"]
        keys = listed_keys(client, "shared", page_size=100, **params)
        assert total == len(keys), (total, keys)
        return set(keys)

    def org_wide():
        r = admin.get(FILES, params={"scope": "organization", "shared_with": "organization"})
        assert r.status_code == 200, r.text
        return r.json()["pagination"]["total"]

    k = {name: f["object_key"] for name, f in (("f1.csv", f1), ("f2.csv", f2), ("f3.csv", f3), ("g1.csv", g1))}
    assert shared(b) == {k["f1.csv"], k["f2.csv"]}
    assert shared(c) == {k["f1.csv"], k["f2.csv"], k["g1.csv"], k["f3.csv"]}
    assert shared(owner) == {k["g1.csv"]}
    assert shared(c, category="data_source") == set()
    assert org_wide() == 3

    assert owner.delete(f"/api/v1/storage/shares/{grants[(f1['object_key'], True)]}").status_code == 204
    assert shared(b) == {k["f1.csv"], k["f2.csv"]}
    assert shared(c) == {k["f2.csv"], k["g1.csv"], k["f3.csv"]}
    assert org_wide() == 2
    assert owner.delete(f"/api/v1/storage/objects/{f2['object_name']}").status_code == 204
    assert shared(b) == {k["f1.csv"]}
    assert shared(c) == {k["g1.csv"], k["f3.csv"]}
    assert org_wide() == 1
    assert database_oracle.bookkeeping_problems(stack) == []


def test_admins_list_the_organization_and_share_any_members_file(stack):
    member = seen(Client(stack))
    admin = seen(member.colleague(role="admin"))
    other = seen(member.colleague())
    small = member.upload("small.txt", b"s").json()
    big = other.upload("big.bin", b"b" * 5000).json()
    assert_error(member.get(FILES, params={"scope": "organization"}), 403, "forbidden")
    r = admin.get(FILES, params={"scope": "organization", "sort": "size", "order": "desc", "page_size": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pagination"]["total"] == 2 and body["pagination"]["total_pages"] == 2
    assert [(f["object_key"], f["owner_id"]) for f in body["files"]] == [(big["object_key"], other.user)]
    # An admin reads any member's record by key and shares it; the owner sees who did.
    assert metadata(admin, small["object_key"]).status_code == 200
    s = share(admin, small["object_key"], user_id=other.user)
    assert s.status_code == 201 and s.json()["created_by"] == admin.user
    assert download(other, small["object_key"]).status_code == 200
    assert [x["id"] for x in member.get(f"/api/v1/storage/objects/{small['object_name']}/shares").json()["shares"]] == [s.json()["id"]]
    assert admin.delete(f"/api/v1/storage/shares/{s.json()['id']}").status_code == 204
    assert_error(download(other, small["object_key"]), 404)
    assert_error(admin.get(FILES, params={"scope": "all"}), 400, "invalid_parameter")


def test_admins_list_the_files_shared_organization_wide_until_revoked(stack):
    owner = seen(Client(stack))
    colleague, admin = seen(owner.colleague()), seen(owner.colleague(role="admin"))
    wide = owner.upload("everyone.csv", b"for all\n").json()
    direct = owner.upload("one.csv", b"for one\n").json()
    owner.upload("private.csv", b"mine\n").raise_for_status()
    theirs = colleague.upload("theirs.csv", b"also for all, and longer\n").json()
    wide_share = share(owner, wide["object_name"], organization=True)
    assert wide_share.status_code == 201
    assert share(owner, direct["object_name"], user_id=colleague.user).status_code == 201
    assert share(colleague, theirs["object_name"], organization=True).status_code == 201
    # Another organization's org-wide share never shows.
    foreign = Client(stack)
    f = foreign.upload("foreign.csv", b"elsewhere\n").json()
    assert share(foreign, f["object_name"], organization=True).status_code == 201

    org_wide = {"scope": "organization", "shared_with": "organization"}
    r = admin.get(FILES, params={**org_wide, "sort": "size", "order": "desc"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["object_key"] for x in body["files"]] == [theirs["object_key"], wide["object_key"]]
    assert all(x["shared"] is True for x in body["files"])
    assert body["pagination"] == {"page": 1, "page_size": 20, "total": 2, "total_pages": 1}
    assert listed_keys(admin, "organization", shared_with="organization", category="data_source") == []

    assert owner.delete(f"/api/v1/storage/shares/{wide_share.json()['id']}").status_code == 204
    assert listed_keys(admin, "organization", shared_with="organization") == [theirs["object_key"]]

    assert_error(owner.get(FILES, params=org_wide), 403, "forbidden")
    for params in ({"shared_with": "organization"}, {"scope": "shared", "shared_with": "organization"},
                   {"scope": "organization", "shared_with": "everyone"}):
        assert_error(admin.get(FILES, params=params), 400, "invalid_parameter")


def test_bad_share_requests_get_their_json_errors(stack):
    owner = seen(Client(stack))
    colleague = seen(owner.colleague())
    name = owner.upload("x.csv", b"1,2\n").json()["object_name"]
    foreigner = seen(Client(stack))
    for body in ({}, {"user_id": "nope"}, {"organization": False}, {"organization": "yes"}, {"organization": 1},
                 {"user_id": colleague.user, "organization": True}, {"user_id": owner.user},
                 {"user_id": foreigner.user}, {"user_id": str(uuid.uuid4())}, {"everyone": True}):
        assert_error(share(owner, name, **body), 422, "invalid_share")
    path = f"/api/v1/storage/objects/{name}/shares"
    assert_error(owner.post(path, data=b"{not json", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert_error(owner.post(path, data=b"[]", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert_error(owner.post(path, data=b"x" * 5000, headers={"Content-Type": "application/json"}), 413, "payload_too_large")
    # nginx refuses an API body past its small limit before any worker reads it.
    assert_error(owner.post(path, data=b"x" * (2 << 20), headers={"Content-Type": "application/json"}), 413)
    assert_error(share(owner, "missing_20260101_000000_00000000.csv", organization=True), 404)
    assert_error(share(owner, "../x", organization=True), 400, "invalid_object_name")
    assert_error(owner.delete("/api/v1/storage/shares/not-a-uuid"), 400, "invalid_id")
    assert_error(owner.delete(f"/api/v1/storage/shares/{uuid.uuid4()}"), 404)
    assert_error(Client(stack, token="x").post(path, json={"organization": True}), 401)


def test_individual_accounts_cannot_share(stack):
    solo = seen(Client(stack, acct="individual"))
    name = solo.upload("mine.txt", b"mine").json()["object_name"]
    assert_error(share(solo, name, organization=True), 403, "sharing_not_available")


def test_a_member_quota_stops_one_member_and_not_the_others(stack):
    first = seen(Client(stack))
    second = seen(first.colleague())
    plan = "member-" + uuid.uuid4().hex[:8]
    depotctl_cli.run_json(stack, "plan", "create", plan, "--quota", "1MiB", "--max-file-size", "1MiB", "--max-files", "100",
                          "--member-quota", "1000")
    set_plan(stack, first.org, plan)
    assert first.get("/api/v1/storage/quota").json()["member_quota_bytes"] == 1000
    assert first.upload("a.bin", b"a" * 900).status_code == 201
    assert_error(first.upload("b.bin", b"b" * 200), 413, "member_quota_exceeded")
    assert second.upload("c.bin", b"c" * 900).status_code == 201
    usage = first.get("/api/v1/storage/usage").json()
    assert usage["used_bytes"] == 1800 and usage["reserved_bytes"] == 0
    updated = depotctl_cli.run_json(stack, "plan", "update", plan, "--member-quota", "none")
    assert updated["member_quota_bytes"] is None
    assert first.upload("b.bin", b"b" * 200).status_code == 201
