"""Events (webhooks) through a real stack: a receiver on 127.0.0.1 started
by the test (http.server in a thread) gets each event POSTed by the
supervisor's deliverer, signed `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`
with the endpoint's secret, retried with backoff, in order per
organization, and kept across a restart of Depot."""
import base64
import hashlib
import hmac
import json
import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import database_oracle
from conftest import Client, set_plan
from depotctl_cli import run as depotctl_run
from depotctl_cli import run_json

KiB = 1 << 10
FAST_RETRIES = {"retry_base_seconds": 1, "poll_ms": 100, "timeout_seconds": 2}


class Receiver:
    """An HTTP endpoint on loopback that records every POST. `answer(event)`
    returns the status to answer (or a number of seconds to hang first as
    ("hang", seconds))."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        self.answer = lambda event: 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                event = json.loads(body)
                with receiver.lock:
                    receiver.received.append({"headers": dict(self.headers), "body": body, "event": event,
                                              "at": time.monotonic()})
                status = receiver.answer(event)
                if isinstance(status, tuple):
                    time.sleep(status[1])
                    status = 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self, **match):
        with self.lock:
            return [r for r in self.received if all(r["event"]["data"].get(k) == v for k, v in match.items())]

    def wait_for(self, predicate, timeout=30, what="events"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                got = list(self.received)
            if predicate(got):
                return got
            time.sleep(0.1)
        raise AssertionError(f"{what} not received within {timeout}s: {[r['event']['type'] for r in got]}")


def verify(record, secret):
    """The receiver's check: recompute the HMAC of "t.body" and compare in constant time."""
    fields = dict(part.split("=", 1) for part in record["headers"]["Depot-Signature"].split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + record["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) < 300


def of_type(kind, **match):
    return lambda got: any(r["event"]["type"] == kind and all(r["event"]["data"].get(k) == v for k, v in match.items())
                           for r in got)


@pytest.fixture(scope="module")
def receivers():
    made = {"main": Receiver(), "flaky": Receiver()}
    yield made
    for r in made.values():
        r.stop()


@pytest.fixture(scope="module")
def events_stack(tmp_root, postgres_server, receivers):
    from conftest import drop_stack_database, make_stack
    s = make_stack(tmp_root, "events", postgres_server, workers=2,
                   extra_config="[uploads]\nresumable_expiry_seconds = 2\n",
                   plans={"tiny": {"quota": "1MiB", "max_file_size": "512KiB", "max_files": 5},
                          "snug": {"quota": "1MiB", "max_file_size": "512KiB", "max_files": 5}},
                   webhooks={"default": receivers["main"].url,
                             "flaky": {"url": receivers["flaky"].url, "types": "file.created"}},
                   events=FAST_RETRIES)
    s.start()
    yield s
    s.stop()
    drop_stack_database(s, postgres_server)


def test_each_event_type_arrives_signed_and_verifiable(events_stack, receivers):
    # file.created, file.deleted, file.expired, upload.expired and quota.threshold, each signed with the endpoint's secret.
    main, secret = receivers["main"], events_stack.webhook_secret()
    c = Client(events_stack)
    made = c.upload("kept.bin", b"k" * 100)
    assert made.status_code == 201, made.text
    key = made.json()["object_key"]
    gone = c.upload("gone.bin", b"g" * 10).json()
    assert c.delete(f"/api/v1/storage/objects/{gone['object_name']}").status_code in (200, 204)
    short = c.upload("short.bin", b"s" * 10, expires_in="60")
    assert short.status_code == 201, short.text
    database_oracle.set_expiry(events_stack, short.json()["object_key"], int(time.time()) - 1)
    tus = requests.post(c.url("/api/v1/storage/uploads"), timeout=30, headers=dict(
        c.headers, **{"Tus-Resumable": "1.0.0", "Upload-Length": "100",
                      "Upload-Metadata": "filename " + base64.b64encode(b"never.bin").decode()}))
    assert tus.status_code == 201, tus.text
    set_plan(events_stack, c.org, "tiny")
    for name in ("a.bin", "b.bin"):
        assert c.upload(name, b"q" * (450 * KiB)).status_code == 201
    # gc expires the file now, and the resumable upload once its 2 s have passed (whole seconds).
    deadline = time.time() + 15
    while not run_json(events_stack, "gc")["expired_uploads"]:
        assert time.time() < deadline, "the resumable upload never expired"
        time.sleep(0.5)

    got = main.wait_for(lambda got: all(of_type(k, organization_id=c.org)(got) for k in (
        "file.created", "file.deleted", "file.expired", "upload.expired", "quota.threshold")), what="every event type")
    mine = [r for r in got if r["event"]["data"].get("organization_id") == c.org]
    assert all(verify(r, secret) for r in mine)
    assert all(r["headers"]["Depot-Event-Id"] == r["event"]["id"] for r in mine)
    created = next(r["event"] for r in mine if r["event"]["type"] == "file.created" and r["event"]["data"]["object_key"] == key)
    assert set(created) == {"id", "type", "created_at", "data"}
    assert created["data"]["user_id"] == c.user and created["data"]["size"] == 100
    threshold = next(r["event"]["data"] for r in mine if r["event"]["type"] == "quota.threshold")
    assert threshold["threshold"] == 80 and threshold["quota_bytes"] == 1 << 20
    # Nothing secret rides along: no signed URL, no key material.
    for r in mine:
        assert b"signature=" not in r["body"] and b"X-Amz" not in r["body"]
        assert not verify(r, secret + "x")
    # Delivered, as depotctl and /metrics tell.
    listed = run_json(events_stack, "events", "list", "--limit", "1000")["events"]
    for r in mine:
        entry = next(e for e in listed if e["id"] == r["event"]["id"])
        assert any(d["endpoint"] == "default" and d["status"] == "delivered" for d in entry["deliveries"])
    metrics = requests.get(events_stack.base_url + "/metrics", timeout=30).text
    delivered = next(line for line in metrics.splitlines() if line.startswith("depot_events_delivered "))
    assert int(delivered.split()[1]) >= len(mine)


def test_a_plan_change_that_crosses_a_threshold_is_reported(events_stack, receivers):
    # 600 KiB stored is 59 % of "tiny" (1 MiB): no event. `plan update` to
    # 700 KiB makes it 86 %: quota.threshold 80 arrives, from depotctl alone.
    c = Client(events_stack)
    assert c.upload("big.bin", b"p" * (300 * KiB)).status_code == 201
    set_plan(events_stack, c.org, "snug")
    assert c.upload("more.bin", b"p" * (300 * KiB)).status_code == 201
    def thresholds():
        return [e for e in run_json(events_stack, "events", "list", "--limit", "1000")["events"]
                if e["type"] == "quota.threshold" and e["organization_id"] == c.org]
    assert thresholds() == []
    done = depotctl_run(events_stack, "plan", "update", "snug", "--quota", "700KiB")
    assert done.returncode == 0, done.stderr
    assert len(thresholds()) == 1
    got = receivers["main"].wait_for(of_type("quota.threshold", organization_id=c.org), what="quota.threshold after the plan change")
    data = next(r["event"]["data"] for r in got if r["event"]["type"] == "quota.threshold" and r["event"]["data"]["organization_id"] == c.org)
    assert data["threshold"] == 80 and data["quota_bytes"] == 700 * KiB and data["plan"] == "snug"


def test_a_receiver_answering_500_three_times_gets_the_event_on_the_fourth_try(events_stack, receivers):
    # The flaky endpoint (file.created only) fails the first three tries of each event; backoff 1, 2, 4 s.
    flaky = receivers["flaky"]
    tries = {}

    def answer(event):
        tries[event["id"]] = tries.get(event["id"], 0) + 1
        return 500 if tries[event["id"]] <= 3 else 204
    flaky.answer = answer
    c = Client(events_stack)
    key = c.upload("flaky.bin", b"f" * 10).json()["object_key"]
    got = flaky.wait_for(lambda got: len([r for r in got if r["event"]["data"].get("object_key") == key]) >= 4,
                         timeout=40, what="four tries")
    attempts = [r for r in got if r["event"]["data"].get("object_key") == key]
    assert len({r["event"]["id"] for r in attempts}) == 1
    gaps = [b["at"] - a["at"] for a, b in zip(attempts, attempts[1:])]
    # Backing off (1, 2, 4 s, on whole seconds), not hammering.
    assert gaps[2] > gaps[0] and sum(gaps) >= 3, gaps
    assert all(verify(r, events_stack.webhook_secret("flaky")) for r in attempts)
    event_id = attempts[0]["event"]["id"]

    def delivered():
        listed = run_json(events_stack, "events", "list", "--limit", "1000")["events"]
        return next(d for e in listed if e["id"] == event_id for d in e["deliveries"] if d["endpoint"] == "flaky")
    deadline = time.time() + 10
    while delivered()["status"] != "delivered" and time.time() < deadline:
        time.sleep(0.2)
    assert (delivered()["status"], delivered()["attempts"], delivered()["failures"]) == ("delivered", 4, 3)
    # The main endpoint was not held up by the flaky one.
    assert receivers["main"].events(object_key=key)


def test_a_deleted_files_events_arrive_created_before_deleted(events_stack, receivers):
    # Even when the create's first delivery fails, the delete waits behind it (same organization, same endpoint).
    main = receivers["main"]
    c = Client(events_stack)
    failed_once = set()

    def answer(event):
        if event["type"] == "file.created" and event["data"]["organization_id"] == c.org and event["id"] not in failed_once:
            failed_once.add(event["id"])
            return 503
        return 204
    main.answer = answer
    try:
        made = c.upload("ordered.bin", b"o" * 10).json()
        assert c.delete(f"/api/v1/storage/objects/{made['object_name']}").status_code in (200, 204)
        main.wait_for(of_type("file.deleted", object_key=made["object_key"]), what="the delete")
    finally:
        main.answer = lambda event: 204
    sequence = [r["event"]["type"] for r in main.events(object_key=made["object_key"])]
    assert sequence == ["file.created", "file.created", "file.deleted"]


def test_a_receiver_that_hangs_does_not_slow_uploads(fresh_stack):
    # Upload latency with the endpoint answering at once, then with it hanging (deliverer timeout 2 s): loosely the same.
    receiver = Receiver()
    try:
        stack = fresh_stack(webhooks={"default": receiver.url}, events=FAST_RETRIES)
        c = Client(stack)

        def timed_uploads(n):
            took = []
            for i in range(n):
                start = time.monotonic()
                assert c.upload(f"t{i}.bin", b"t" * 1000).status_code == 201
                took.append(time.monotonic() - start)
            return statistics.median(took)
        c.upload("warm.bin", b"w")
        fast = timed_uploads(10)
        receiver.wait_for(lambda got: len(got) >= 11, what="the first uploads' events")
        receiver.answer = lambda event: ("hang", 30)
        hanging = timed_uploads(10)
        assert hanging < max(5 * fast, 0.5), (fast, hanging)
    finally:
        receiver.stop()


def test_a_restart_of_depot_loses_no_pending_event(fresh_stack):
    # Events recorded while the receiver fails are delivered after Depot stops and starts again.
    receiver = Receiver()
    try:
        receiver.answer = lambda event: 500
        stack = fresh_stack(webhooks={"default": receiver.url}, events=FAST_RETRIES)
        c = Client(stack)
        keys = [c.upload(f"r{i}.bin", b"r").json()["object_key"] for i in range(3)]
        receiver.wait_for(lambda got: len(got) >= 1, what="a first failed try")
        stack.stop_depot()
        pending = run_json(stack, "events", "list", "--failed")["events"]
        assert {json.loads(e["payload"])["data"]["object_key"] for e in pending} <= set(keys)
        receiver.answer = lambda event: 204
        restarted = len(receiver.received)
        stack.start_depot()
        got = receiver.wait_for(lambda got: {r["event"]["data"]["object_key"] for r in got[restarted:]} >= set(keys),
                                timeout=40, what="the pending events after the restart")
        assert [r["event"]["data"]["object_key"] for r in got[restarted:]][:3] == keys
        deadline = time.time() + 10
        while time.time() < deadline:
            listed = run_json(stack, "events", "list")["events"]
            if all(e["deliveries"][0]["status"] == "delivered" for e in listed):
                break
            time.sleep(0.2)
        assert len(listed) == 3 and all(e["deliveries"][0]["status"] == "delivered" for e in listed)
        # Replay sends an event again, same id and body.
        before = len(receiver.received)
        done = depotctl_run(stack, "events", "replay", listed[0]["id"])
        assert done.returncode == 0, done.stderr
        got = receiver.wait_for(lambda got: len(got) > before, what="the replay")
        assert got[-1]["event"]["id"] == listed[0]["id"] and got[-1]["body"].decode() == listed[0]["payload"]
        # And every event of the last hour, after a receiver outage.
        done = depotctl_run(stack, "events", "replay", "--since", "1h")
        assert done.returncode == 0 and done.stdout.strip() == "deliveries queued: 3", done.stdout + done.stderr
        receiver.wait_for(lambda got: len(got) >= before + 4, what="the replay since an hour ago")
        assert depotctl_run(stack, "events", "replay", "--since", "1h", listed[0]["id"]).returncode == 2
    finally:
        receiver.stop()


@pytest.mark.postgresql_only("two nodes share one metadata database")
def test_two_nodes_deliverers_send_each_event_once_and_in_order(tmp_root, postgres_server):
    # Both nodes run a deliverer on the one outbox: every event arrives once, each organization's in upload order.
    from conftest import drop_stack_database, make_stack
    receiver = Receiver()
    first = make_stack(tmp_root, "events-node1", postgres_server, store="cluster", workers=1, upload_workers=1,
                       webhooks={"default": receiver.url}, events=FAST_RETRIES)
    second = first.second_node(os.path.join(tmp_root, "events-node2"))
    try:
        first.start()
        second.start()
        callers = [Client(first) for _ in range(4)]
        keys = {c.org: [] for c in callers}
        for j in range(4):
            for c in callers:
                node = Client(second if j % 2 else first, org=c.org, user=c.user, token=c.token)
                made = node.upload(f"n{j}.bin", b"x" * 10)
                assert made.status_code == 201, made.text
                keys[c.org].append(made.json()["object_key"])
        wanted = {k for ks in keys.values() for k in ks}
        receiver.wait_for(lambda got: {r["event"]["data"]["object_key"] for r in got} >= wanted, timeout=60,
                          what="every event")
        time.sleep(1)  # a duplicate would have arrived by now
        with receiver.lock:
            got = list(receiver.received)
        ids = [r["event"]["id"] for r in got]
        assert len(ids) == len(set(ids)) == len(wanted)
        for org, ks in keys.items():
            assert [r["event"]["data"]["object_key"] for r in got if r["event"]["data"]["organization_id"] == org] == ks
    finally:
        second.stop()
        first.stop()
        drop_stack_database(first, postgres_server)
        receiver.stop()
