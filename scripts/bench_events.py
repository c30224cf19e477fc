"""Webhooks benchmark: API latency with event delivery on (to an endpoint
that hangs) vs off.

A benchmark, not a test: it prints figures. `scripts/bench.py` calls
`run_cases(stack, record, ...)` on its running stack: a caller makes short
requests in turn (POST /upload of 4 KiB, which writes a `file.created`
event, and GET /quota), first with no endpoint configured, then with one
endpoint on loopback that holds every delivery for 2 s before answering (a
slow receiver: the deliverer is busy the whole time); the stack's workers
are restarted, then warmed untimed, for each half. The p99 of each route,
on / off, should stay within noise (target <= 1.2): delivery runs in its
own process and never in a request.
"""
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from bench_common import Caller


class SlowReceiver:
    """Answers every POST after `delay` seconds; counts them."""

    def __init__(self, delay=2.0):
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(delay)
                receiver.count += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _reconfigure(stack, webhooks):
    """Restarts the stack's depot (supervisor, workers, deliverer) with these endpoints."""
    stack.webhooks = webhooks
    stack._write_secrets()
    stack._write_config()
    stack.stop_depot()
    stack.start_depot()


def _p99(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def run_cases(stack, record, quick, plan=None):
    rounds = 100 if quick else 400
    print(f"events: API p99 with webhooks to a hanging endpoint vs none ({rounds} rounds of POST /upload 4 KiB + GET /quota)",
          flush=True)
    caller = Caller(stack)
    if plan:
        plan(caller.org)
    blob = os.urandom(4096)
    session = requests.Session()

    def latencies(tag, warm=20):
        # Each half runs on workers just restarted (`_reconfigure`): the first
        # rounds, in which they open the database and prepare statements,
        # are not timed, or the few slowest of them would be the p99.
        upload, quota = [], []
        for i in range(-warm, rounds):
            t = time.perf_counter()
            r = session.post(stack.base_url + "/api/v1/storage/upload", headers=caller.headers,
                             files={"file": (f"ev-{tag}-{i}.bin", blob)}, timeout=60)
            if i >= 0:
                upload.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 201, r.text
            t = time.perf_counter()
            r = session.get(stack.base_url + "/api/v1/storage/quota", headers=caller.headers, timeout=60)
            if i >= 0:
                quota.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
        return {"POST /upload 4 KiB": _p99(upload), "GET /quota": _p99(quota)}

    was = stack.webhooks
    receiver = SlowReceiver()
    _reconfigure(stack, was)
    off = latencies("off")
    _reconfigure(stack, {"bench": receiver.url})
    try:
        on = latencies("on")
    finally:
        _reconfigure(stack, was)
        receiver.stop()
    print(f"    the hanging endpoint took {receiver.count} deliveries meanwhile", flush=True)
    for name in off:
        record(f"{name} p99 with webhooks (endpoint hanging 2 s) vs none", on[name], off[name], "ms", "<= 1.2")
