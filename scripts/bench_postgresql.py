"""`make bench` cases for PostgreSQL (imported by bench.py):

- the metadata routes on a PostgreSQL stack against the same routes on the
  SQLite stack, in rounds that take the two in turn (target >= 0.5);
- the scale rows on PostgreSQL: listing, usage and upload latency at 1M
  file records against 1k (target <= 1.2);
- two nodes on one PostgreSQL under 64 clients (32 per node) uploading into
  one organization (the worst case: every upload takes that organization's
  row) and into one organization each: uploads/s, p99, and what PostgreSQL
  saw, sampled every 50 ms: connections, backends waiting for a lock.

On one 2-core machine the nodes share the cores, so no throughput gain can
show here; the figures say where the next bottleneck is (docs/OPERATIONS.md,
"More than one host").
"""
import os
import statistics
import threading
import time

import requests

from bench_common import Caller, ensure_wrk, wrk_rounds
from database_oracle import sample_activity, seed_files, vacuum
from depot_stack import Stack
from depotctl_cli import set_plan

PLANS = {"bench": {"quota": "4TiB", "max_file_size": "5GiB", "max_files": 10000000}}


METADATA_ROUTES = ("GET /quota", "GET /objects/{name}/metadata", "GET /files?page_size=20")


def metadata_path(route, caller):
    return {"GET /quota": "/api/v1/storage/quota",
            "GET /objects/{name}/metadata": f"/api/v1/storage/objects/{caller.probe_name}/metadata",
            "GET /files?page_size=20": "/api/v1/storage/files?page_size=20"}[route]


def prepared_caller(stack, files):
    caller = Caller(stack)
    set_plan(stack, caller.org, "bench")
    r = requests.post(stack.base_url + "/api/v1/storage/upload", headers=caller.headers,
                      files={"file": ("probe.txt", b"probe")}, timeout=30)
    r.raise_for_status()
    caller.probe_name = r.json()["object_name"]
    seed_files(stack, caller.org, caller.user, files)
    return caller


class ActivitySampler:
    """Samples pg_stat_activity for the stack's database every 50 ms in a thread."""

    def __init__(self, stack):
        self.samples = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=lambda: self.samples.extend(sample_activity(stack, self.stop_flag)),
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join()


def upload_load(nodes, callers, seconds, clients):
    """`clients` threads (split over the nodes) uploading 4 KiB files for `seconds`."""
    latencies, errors = [], []
    lock = threading.Lock()
    deadline = time.time() + seconds
    blob = os.urandom(4096)

    def client(i):
        node, caller = nodes[i % len(nodes)], callers[i % len(callers)]
        s = requests.Session()
        n = 0
        while time.time() < deadline:
            t = time.perf_counter()
            r = s.post(node.base_url + "/api/v1/storage/upload", headers=caller.headers,
                       files={"file": (f"load-{i}-{n}.bin", blob)}, timeout=60)
            dt = (time.perf_counter() - t) * 1000
            n += 1
            with lock:
                (latencies if r.status_code == 201 else errors).append(dt if r.status_code == 201 else r.status_code)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - started
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    return len(latencies) / elapsed, p99, errors


def run_cases(sqlite_stack, record, work, quick, scale_latencies):
    seconds = 3 if quick else 8
    if not ensure_wrk():
        print("postgresql: wrk not available; skipped", flush=True)
        return
    node1 = Stack(os.path.join(work, "pg-node1"), workers=2, upload_workers=4, build="release", plans=PLANS,
                  database="postgresql", store_memory_limit=None)
    node2 = None
    try:
        node1.start()
        print("postgresql: metadata routes, PostgreSQL stack vs SQLite stack (wrk, 32 connections, 10k files)", flush=True)
        pg_caller, sqlite_caller = prepared_caller(node1, 10_000), prepared_caller(sqlite_stack, 10_000)
        vacuum(node1)  # as autovacuum would have, before the freshly loaded rows are read
        rounds = 2 if quick else 4
        # Route by route, the two stacks next to each other in every round.
        stacks = (("sqlite", sqlite_stack, sqlite_caller), ("postgresql", node1, pg_caller))
        targets = {(db, route): (stack.base_url + metadata_path(route, caller), caller.headers)
                   for route in METADATA_ROUTES for db, stack, caller in stacks}
        runs = wrk_rounds(targets, rounds, max(2, seconds // 2))
        for route in METADATA_ROUTES:
            pg, sqlite = (statistics.median(r.rps for r in runs[(db, route)]) for db in ("postgresql", "sqlite"))
            record(f"PostgreSQL {route} req/s", pg, sqlite, "req/s", ">= 0.5 (vs SQLite)", f"median of {rounds} rounds, stacks in turn")

        small_n, large_n = 1_000, (50_000 if quick else 1_000_000)
        print(f"postgresql: scale, {small_n} vs {large_n} file records in one organization (median latency, ms)", flush=True)
        a, b = Caller(node1), Caller(node1)
        a.grantee, b.grantee = Caller(node1, role="member", org=a.org), Caller(node1, role="member", org=b.org)
        set_plan(node1, a.org, "bench")
        set_plan(node1, b.org, "bench")
        seed_files(node1, a.org, a.user, small_n, share_with=a.grantee.user)
        t = time.perf_counter()
        seed_files(node1, b.org, b.user, large_n, share_with=b.grantee.user)
        print(f"    seeded {large_n} records in {time.perf_counter() - t:.1f} s", flush=True)
        # A table that grew to 1M rows over months has been vacuumed by
        # autovacuum; one bulk-loaded a second ago has not (its first reads
        # set hint bits, and autovacuum would run during the measurement).
        vacuum(node1)
        la, lb = scale_latencies(node1, a, small_n, b, large_n)
        for name in la:
            record(f"PostgreSQL {name} at {large_n} vs {small_n} files", lb[name], la[name], "ms", "<= 1.2")

        node2 = node1.second_node(os.path.join(work, "pg-node2"))
        node2.start()
        clients = 64
        load_seconds = 5 if quick else 15
        shared = Caller(node1)
        set_plan(node1, shared.org, "bench")
        own = [Caller(node1) for _ in range(clients)]
        for c in own:
            set_plan(node1, c.org, "bench")
        for label, callers in (("one organization", [shared]), ("an organization per client", own)):
            with ActivitySampler(node1) as sampler:
                rate, p99, errors = upload_load([node1, node2], callers, load_seconds, clients)
            conns = [s[0] for s in sampler.samples]
            waits = [s[1] for s in sampler.samples]
            waiting = sum(1 for w in waits if w) / max(1, len(waits))
            note = (f"PostgreSQL connections max {max(conns)}, mean {statistics.mean(conns):.1f}; backends waiting on a lock: "
                    f"max {max(waits)}, mean {statistics.mean(waits):.2f}, in {waiting:.0%} of {len(waits)} samples; "
                    f"errors {len(errors)}")
            print(f"    2 nodes, {clients} clients, 4 KiB uploads into {label}: {rate:.0f}/s, p99 {p99:.0f} ms; {note}", flush=True)
            record(f"2 nodes x 64 clients 4 KiB uploads, {label}", rate, 1, "up/s", "info", note)
            record(f"2 nodes, {label}: lock waiters (mean)", statistics.mean(waits), 1, "backends", "info")
            record(f"2 nodes, {label}: connections (max)", max(conns), 1, "conns", "info")
    finally:
        if node2:
            node2.stop()
        node1.stop()
