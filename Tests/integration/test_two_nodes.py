"""Two Depot nodes, each its own nginx and workers, on one PostgreSQL
database and one SeaweedFS cluster (a master, two volume servers keeping a
copy of every volume each, a filer, the S3 gateway): what one node writes
the other reads, lists and deletes; a quota race spread over both never goes
over; with one node killed the other keeps serving; with one volume server
stopped, files written before still download.

Runs on the PostgreSQL pass only (DEPOT_TEST_DATABASE=postgresql): two nodes
need one shared metadata database, which SQLite is not.
"""
import base64
import concurrent.futures
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest
import requests

import depotctl_cli
from conftest import Client, assert_error, drop_stack_database, make_stack, set_plan, store_keys

pytestmark = pytest.mark.postgresql_only("two nodes share one metadata database")

MiB = 1 << 20
TUS = {"Tus-Resumable": "1.0.0"}
UPLOADS = "/api/v1/storage/uploads"
PLANS = {"race": {"quota": "1MiB", "max_file_size": "512KiB", "max_files": 1000},
         "roomy": {"quota": "1GiB", "max_file_size": "256MiB", "max_files": 10000}}


@pytest.fixture(scope="module")
def nodes(tmp_root, postgres_server):
    """Node 1 (runs the store cluster; its database on the session's server)
    and node 2 (made from node 1: same database, store and secrets)."""
    first = make_stack(tmp_root, "node1", postgres_server, store="cluster", workers=2, upload_workers=2,
                       plans=PLANS)
    second = first.second_node(os.path.join(tmp_root, "node2"))
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()
        drop_stack_database(first, postgres_server)


def on(node, client):
    """The same caller (same token) talking to another node."""
    return Client(node, org=client.org, user=client.user, token=client.token)


def moved(url, node):
    """A URL one node made (signed link, tus Location), pointed at another node."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{node.port}"))


def signed_url(client, f):
    r = client.get(f"/api/v1/storage/objects/{f['object_name']}/presigned-url")
    assert r.status_code == 200, r.text
    return r.json()["url"]


def download_both_ways(client, f):
    """The file's bytes through the client's node: a signed link, and the bearer token."""
    got = []
    for r in (requests.get(moved(signed_url(client, f), client.stack), timeout=120),
              client.get("/api/v1/objects/download", params={"objectKey": f["object_key"]})):
        assert r.status_code == 200, r.text[:300]
        got.append(r.content)
    assert got[0] == got[1]
    return got[0]


def upload_ok(client, name, data, **fields):
    r = client.upload(name, data, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def crash_node(node):
    """The node dies at once: SIGKILL to its depot supervisor and every worker
    (one process group), then nginx's fast shutdown (SIGTERM), which cuts the
    requests in flight."""
    proc = node.processes.pop("depot")
    found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
    workers = [int(pid) for pid in found.split()]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in workers):
        assert time.time() < deadline, "workers outlived their supervisor"
        time.sleep(0.05)
    nginx = node.processes.pop("nginx")
    nginx.send_signal(signal.SIGTERM)
    nginx.wait(timeout=15)


def restart_node(node):
    node.start_depot()
    node.start_nginx()


def test_nodes_share_secrets_store_and_database(nodes):
    # Node 2 was made from node 1: one JWT key, one master key, one store, one database.
    first, second = nodes
    for name in ("jwt-hs256.key", "master.keys", "link.key", "store-access.key", "store-secret.key", "database.password"):
        with open(first.path("secrets", name)) as a, open(second.path("secrets", name)) as b:
            assert a.read() == b.read(), name
    assert first.store_endpoint == second.store_endpoint and first.database_url == second.database_url
    assert first.cluster is second.cluster and first.cluster.volume_count >= 2
    assert first.base_url != second.base_url


def test_upload_on_one_node_is_listed_read_and_deleted_on_the_other(nodes):
    # Upload on node 1; list, metadata, download (signed link and bearer) and delete on node 2.
    first, second = nodes
    one = Client(first)
    two = on(second, one)
    data = os.urandom(3 * MiB + 11)
    f = upload_ok(one, "report.pdf", data, category="data_source")
    assert two.get(f"/api/v1/storage/objects/{f['object_name']}/metadata").json() == f
    listed = two.get("/api/v1/storage/files").json()
    assert [x["id"] for x in listed["files"]] == [f["id"]] and listed["pagination"]["total"] == 1
    keys = [o["key"] for o in two.get("/api/v1/storage/buckets/depot/objects").json()["objects"]]
    assert keys == [f["object_key"]]
    assert download_both_ways(two, f) == data
    # A link node 1 signed is good on node 2: one key signs for both.
    assert requests.get(moved(signed_url(one, f), second), timeout=60).content == data
    usage = two.get("/api/v1/storage/usage").json()
    assert (usage["used_bytes"], usage["file_count"]) == (len(data), 1)
    assert one.get("/api/v1/storage/usage").json() == usage

    assert two.delete(f"/api/v1/storage/objects/{f['object_name']}").status_code == 204
    assert_error(one.get(f"/api/v1/storage/objects/{f['object_name']}/metadata"), 404)
    assert_error(one.delete(f"/api/v1/storage/objects/{f['object_name']}"), 404)
    assert one.get("/api/v1/storage/files").json()["files"] == []
    assert one.get("/api/v1/storage/usage").json()["used_bytes"] == 0
    assert store_keys(first, f"organizations/{one.org}/") == set()


def test_shares_and_links_revoked_on_one_node_end_on_the_other(nodes):
    # A share and a signed link made on node 1, revoked on node 2: node 1's very next request refuses them.
    first, second = nodes
    owner = Client(first)
    grantee = Client(first, org=owner.org)
    grantee.get("/api/v1/storage/quota").raise_for_status()
    data = os.urandom(64 * 1024)
    f = upload_ok(owner, "plan.bin", data)
    key = urllib.parse.quote(f["object_key"], safe="")
    share = owner.post(f"/api/v1/storage/objects/{f['object_name']}/shares", json={"user_id": grantee.user})
    assert share.status_code == 201, share.text
    link = owner.get(f"/api/v1/storage/objects/{f['object_name']}/presigned-url").json()
    grantee_two = on(second, grantee)
    assert grantee_two.get(f"/api/v1/storage/objects/{key}/metadata").status_code == 200
    assert grantee_two.get("/api/v1/objects/download", params={"objectKey": f["object_key"]}).content == data
    assert requests.get(moved(link["url"], second), timeout=60).content == data

    owner_two = on(second, owner)
    assert owner_two.delete(f"/api/v1/storage/shares/{share.json()['id']}").status_code == 204
    assert owner_two.delete(f"/api/v1/storage/links/{link['id']}").status_code == 204
    assert_error(grantee.get(f"/api/v1/storage/objects/{key}/metadata"), 404)
    assert_error(grantee.get("/api/v1/objects/download", params={"objectKey": f["object_key"]}), 404)
    assert grantee.get("/api/v1/storage/files", params={"scope": "shared"}).json()["files"] == []
    assert requests.get(link["url"], timeout=60).status_code == 404


def test_a_file_is_stored_twice_in_the_cluster(nodes):
    # Every chunk of an uploaded file (here several: 12 MiB) is on two volume servers.
    first, _ = nodes
    c = Client(first)
    f = upload_ok(c, "big.bin", os.urandom(12 * MiB))
    locations = first.cluster.object_locations(f["object_key"])
    assert locations and all(len(set(servers)) == 2 for servers in locations), locations


def test_quota_race_across_nodes_never_goes_over(nodes):
    # 24 concurrent 96 KiB uploads, alternately on node 1 and node 2, into 1 MiB
    # of room: exactly 10 fit; the rest get quota_exceeded; both nodes then
    # report the same figures, and the store holds exactly the accepted files.
    first, second = nodes
    c = Client(first)
    c.get("/api/v1/storage/quota").raise_for_status()
    set_plan(second, c.org, "race")
    size, count = 96 << 10, 24
    payloads = [os.urandom(size) for _ in range(count)]
    start = threading.Barrier(count)

    def up(i):
        caller = on(first if i % 2 == 0 else second, c)
        start.wait()
        return caller.upload(f"race-{i}.bin", payloads[i])

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        results = list(pool.map(up, range(count)))
    ok = [r for r in results if r.status_code == 201]
    for r in results:
        if r.status_code != 201:
            assert_error(r, 413, "quota_exceeded")
    accepted = sum(r.json()["size"] for r in ok)
    assert accepted <= MiB
    assert len(ok) == MiB // size, [r.status_code for r in results]
    views = [on(node, c) for node in nodes]
    assert views[0].get("/api/v1/storage/quota").json() == views[1].get("/api/v1/storage/quota").json()
    assert views[0].get("/api/v1/storage/quota").json()["quota_bytes"] == MiB
    usage = [v.get("/api/v1/storage/usage").json() for v in views]
    assert usage[0] == usage[1]
    assert (usage[0]["used_bytes"], usage[0]["file_count"], usage[0]["reserved_bytes"]) == (accepted, len(ok), 0)
    keys = sorted(r.json()["object_key"] for r in ok)
    assert sorted(store_keys(first, f"organizations/{c.org}/")) == keys == depotctl_cli.record_keys(second, c.org)
    assert depotctl_cli.reservations(first, c.org) == []


def test_resumable_upload_moves_between_nodes(nodes):
    # A tus upload made on node 1, continued on node 2, read back on node 1.
    first, second = nodes
    c = Client(first)
    data = os.urandom(12 * MiB + 5)
    meta = "filename " + base64.b64encode(b"moving.bin").decode()
    r = requests.post(c.url(UPLOADS), headers=dict(c.headers, **TUS, **{"Upload-Length": str(len(data)),
                                                                         "Upload-Metadata": meta}), timeout=30)
    assert r.status_code == 201, r.text
    location = r.headers["Location"]
    half = 6 * MiB
    for node, offset, chunk in ((first, 0, data[:half]), (second, half, data[half:])):
        r = requests.patch(moved(location, node), data=chunk, timeout=120, headers=dict(
            c.headers, **TUS, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}))
        assert r.status_code == 204, r.text
        assert r.headers["Upload-Offset"] == str(offset + len(chunk))
    info = requests.get(moved(location, first), headers=c.headers, timeout=30).json()
    assert info["offset"] == info["length"] == len(data)
    assert info["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert download_both_ways(c, info["file"]) == data


def test_one_node_killed_the_other_keeps_serving(nodes):
    # Node 1's supervisor and workers are SIGKILLed and its nginx stopped, one
    # upload in flight: node 2 serves uploads, listings, downloads and deletes
    # of files from both nodes; node 1 comes back afterwards.
    first, second = nodes
    one = Client(first)
    two = on(second, one)
    before = os.urandom(2 * MiB)
    f1 = upload_ok(one, "before.bin", before)
    # 8 MiB of a 64 MiB upload (above the multipart threshold: reserved and
    # streamed to the store as it arrives) sent to node 1; the rest never comes.
    size = 64 * MiB
    head = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    cut = socket.create_connection(("127.0.0.1", first.port), timeout=30)
    cut.sendall((f"POST /api/v1/storage/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {one.token}\r\n"
                 f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {size + len(head) + 8}\r\n\r\n"
                 ).encode() + head + os.urandom(8 * MiB))
    deadline = time.time() + 15
    while not (held := depotctl_cli.reservations(second, one.org)):
        assert time.time() < deadline, "the upload never reached a worker"
        time.sleep(0.1)
    try:
        crash_node(first)
        answer = b""
        try:
            while chunk := cut.recv(65536):
                answer += chunk
        except ConnectionError:
            pass
        assert answer == b"" or answer.split(b" ", 2)[1].startswith(b"5"), answer[:200]
        with pytest.raises(requests.ConnectionError):
            requests.get(first.base_url + "/api/v1/storage/quota", headers=one.headers, timeout=5)
        after = os.urandom(1 * MiB + 3)
        f2 = upload_ok(two, "after.bin", after)
        assert download_both_ways(two, f1) == before
        assert download_both_ways(two, f2) == after
        names = {x["original_filename"] for x in two.get("/api/v1/storage/files").json()["files"]}
        assert {"before.bin", "after.bin"} <= names and "cut.bin" not in names
        assert two.delete(f"/api/v1/storage/objects/{f1['object_name']}").status_code == 204
        # The dead worker's reservation holds its room until gc, run from
        # node 2 (same host: it can tell the owner is gone), gives it back.
        assert [r["object_key"] for r in depotctl_cli.reservations(second, one.org)] == [held[0]["object_key"]]
        report = depotctl_cli.run_json(second, "gc")
        assert [r["object_key"] for r in report["reclaimed_reservations"]] == [held[0]["object_key"]]
        assert held[0]["object_key"] in {u["key"] for u in report["aborted_uploads"]}
        assert two.get("/api/v1/storage/usage").json()["reserved_bytes"] == 0
    finally:
        cut.close()
        restart_node(first)
    assert download_both_ways(one, f2) == after
    assert_error(one.get(f"/api/v1/storage/objects/{f1['object_name']}/metadata"), 404)


def test_one_volume_server_stopped_downloads_still_succeed(nodes):
    # Files written before (one small, one of several chunks) download through
    # both nodes while a volume server is stopped; uploads work again once it
    # is back.
    first, second = nodes
    one = Client(first)
    two = on(second, one)
    files = {}
    for name, size in (("small.txt", 1000), ("mid.bin", 3 * MiB), ("large.bin", 20 * MiB)):
        data = os.urandom(size)
        files[name] = (upload_ok(one, name, data), data)
    cluster = first.cluster
    for f, _ in files.values():
        assert all(len(set(s)) == 2 for s in cluster.object_locations(f["object_key"]))
    stopped = 0
    cluster.stop_volume(stopped)
    try:
        assert f"127.0.0.1:{cluster.ports['volume0']}" not in cluster.registered_volume_servers()
        for f, data in files.values():
            assert download_both_ways(one, f) == data
            assert download_both_ways(two, f) == data
            # SeaweedFS answers some ranged reads with a 5xx for a few seconds
            # after a volume server goes (its filer still tries the stopped
            # one); Depot passes that on as 503 "retry shortly", and a client
            # that retries as told gets the bytes.
            deadline = time.time() + 15
            while True:
                r = requests.get(moved(signed_url(one, f), second), headers={"Range": "bytes=100-199"}, timeout=60)
                if r.status_code != 503 or time.time() > deadline:
                    break
                assert r.json()["error"]["code"] == "service_unavailable" and r.headers["Retry-After"]
                time.sleep(0.5)
            assert r.status_code == 206 and r.content == data[100:200], (r.status_code, r.text[:300])
        assert len(two.get("/api/v1/storage/files").json()["files"]) == 3
    finally:
        cluster.start_volume(stopped)
    # Back with both copies: writes are taken again (the master may need a
    # heartbeat or two to see the volumes writable).
    deadline = time.time() + 30
    while True:
        r = two.upload("later.bin", os.urandom(4096))
        if r.status_code == 201 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert r.status_code == 201, r.text
    assert all(len(set(s)) == 2 for s in cluster.object_locations(r.json()["object_key"]))


def test_plan_created_on_one_node_applies_on_the_other(nodes):
    # depotctl against node 2 creates a plan; node 1 enforces it on the next upload.
    first, second = nodes
    c = Client(first)
    c.get("/api/v1/storage/quota").raise_for_status()
    plan = "two-node-" + uuid.uuid4().hex[:6]
    done = depotctl_cli.run(second, "plan", "create", plan, "--quota", "1MiB", "--max-file-size", "4KiB",
                            "--max-files", "3")
    assert done.returncode == 0, done.stderr
    set_plan(second, c.org, plan)
    assert c.get("/api/v1/storage/quota").json()["max_file_size_bytes"] == 4096
    assert_error(c.upload("big.bin", b"x" * 5000), 413, "file_too_large")
    for i in range(3):
        upload_ok(on(first if i % 2 else second, c), f"f{i}.txt", b"x" * 10)
    assert_error(on(second, c).upload("fourth.txt", b"x" * 10), 413, "too_many_files")
