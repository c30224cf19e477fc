"""Load generator for the reliability scenarios: N client threads, each with
its own user (and requests.Session) in one of M organizations, doing a
realistic mix of uploads, downloads (hash-checked), metadata, listings,
usage and deletes through nginx on 127.0.0.1.

Every file a client uploads is kept in a ledger with the SHA-256 (and the
recipe to regenerate its bytes), so afterwards `verify_files` can prove that
nothing acknowledged was lost or corrupted: every file that got 201 (and no
204) is listed, has its metadata, and downloads to the same hash.

A scenario passes a `judge` that decides, per response, whether a status is
expected under its fault (a 503 while the store is down) or a failure.
"""
import hashlib
import math
import os
import random
import struct
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from depotctl_cli import set_plan  # noqa: E402

KIB, MIB = 1 << 10, 1 << 20
POOL_SIZE = 16 * MIB
MAX_UPLOAD = 8 * MIB
MIN_UPLOAD = 1 * KIB
PNG_HEAD = b"\x89PNG\r\n\x1a\n"

# Routes as reported (name -> how the request looks).
ROUTES = ("upload", "download", "download_range", "presigned_download", "metadata", "list_files", "delete",
          "usage", "quota", "bucket_objects", "storage_usage")


class Pool:
    """16 MiB of random bytes; a file's content is a 16-byte unique head plus
    a slice of the pool, so it can be regenerated instead of kept."""

    def __init__(self, seed=None):
        rnd = random.Random(seed)
        self.data = rnd.randbytes(POOL_SIZE) if seed is not None else os.urandom(POOL_SIZE)

    def content(self, head, offset, size):
        return head + self.data[offset:offset + size - len(head)]


class FileEntry:
    __slots__ = ("owner", "name", "size", "head", "offset", "sha256", "state", "key", "object_name", "workflow",
                 "category")

    def __init__(self, owner, name, size, head, offset, sha256, category, workflow):
        self.owner = owner            # Identity
        self.name = name              # unique original filename
        self.size = size
        self.head = head
        self.offset = offset
        self.sha256 = sha256
        self.category = category
        self.workflow = workflow      # dict of workflow fields or None
        # live: acknowledged (201); uncertain: no clear answer (resolved by verify_files);
        # deleting: delete sent without a clear answer; deleted: 204.
        self.state = "live"
        self.key = None
        self.object_name = None


class Identity:
    def __init__(self, stack, org, near=False):
        self.org = org
        self.user = str(uuid.uuid4())
        self.near = near
        self.token = stack.token(self.user, org, ttl=6 * 3600)
        self.headers = {"Authorization": "Bearer " + self.token}
        self.files = []               # FileEntry, owned by one client thread at a time


class Outcome:
    __slots__ = ("route", "status", "code", "latency", "start", "error", "identity")

    def __init__(self, route, status, code, latency, start, error, identity):
        self.route, self.status, self.code, self.latency, self.start, self.error, self.identity = \
            route, status, code, latency, start, error, identity


class Verdicts:
    OK, DISRUPTED, THROTTLED, FAILURE = "ok", "disrupted", "throttled", "failure"


def default_judge(outcome):
    """Plain load: every 5xx and every transport error is a failure."""
    if outcome.status is None:
        return Verdicts.FAILURE, f"transport error: {outcome.error}"
    if outcome.status == 429:
        return Verdicts.THROTTLED, None
    if outcome.status >= 500:
        return Verdicts.FAILURE, f"{outcome.status} {outcome.code}"
    return Verdicts.OK, None


class Run:
    """One scenario's traffic: outcomes, the failures the clients found, and
    (after `finish`) the verdict of the scenario's judge on every response."""

    def __init__(self, name, judge=default_judge):
        self.name = name
        self.judge = judge
        self.lock = threading.Lock()
        self.outcomes = []
        self.failures = []            # human-readable strings
        self.disrupted = 0
        self.throttled = 0
        self.started = time.time()
        self.ended = None
        self.notes = []
        self.consistency = None       # list of problems once checked
        # nginx_reload: a connection closed before any answer is retried once.
        self.retry_transport = False
        # The methods retried so (None: all, uploads too).
        self.retry_methods = None
        self.retried = []
        # What each client is waiting for now: {client name: (route, start)}.
        self.in_flight = {}

    def record(self, outcome):
        with self.lock:
            self.outcomes.append(outcome)

    def fail(self, message):
        with self.lock:
            self.failures.append(message)

    def begin(self, client, route, start):
        with self.lock:
            self.in_flight[client] = (route, start)

    def end(self, client):
        with self.lock:
            self.in_flight.pop(client, None)

    def waiting(self, now=None):
        """What the clients are waiting for, longest first (for reports)."""
        now = now or time.time()
        with self.lock:
            pending = sorted(self.in_flight.values(), key=lambda v: v[1])
        return [f"{route} for {now - start:.1f}s" for route, start in pending]

    def finish(self):
        """Judges every response (the judge may use what happened during
        the scenario, such as the time the store came back)."""
        self.ended = self.ended or time.time()
        self.disrupted = self.throttled = 0
        for o in self.outcomes:
            verdict, why = self.judge(o)
            if verdict == Verdicts.DISRUPTED:
                self.disrupted += 1
            elif verdict == Verdicts.THROTTLED:
                self.throttled += 1
            elif verdict == Verdicts.FAILURE:
                self.failures.append(f"{o.route} at +{o.start - self.started:.1f}s: {why}")

    @property
    def requests(self):
        return len(self.outcomes)

    @property
    def five_xx(self):
        return sum(1 for o in self.outcomes if o.status is not None and o.status >= 500)

    def route_stats(self):
        """{route: (count, p50 ms, p99 ms)} over every answered request."""
        by = defaultdict(list)
        for o in self.outcomes:
            if o.status is not None:
                by[o.route].append(o.latency)
        stats = {}
        for route, values in by.items():
            values.sort()
            stats[route] = (len(values), 1000 * percentile(values, 50), 1000 * percentile(values, 99))
        return stats

    def rate(self):
        end = self.ended or time.time()
        return self.requests / max(0.001, end - self.started)

    @property
    def ok(self):
        return not self.failures and self.consistency == []


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def error_code(response):
    try:
        body = response.json()
        return body["error"]["code"]
    except Exception:  # noqa: BLE001 - not JSON: reported as such
        return None


class CountingRetry(Retry):
    """One retry of a request whose connection closed before any answer
    (what browsers do on a reused keep-alive connection); each use is
    counted in `Run.retried`."""

    run = None

    def new(self, **kw):
        r = super().new(**kw)
        r.run = self.run
        return r

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if self.run is not None and error is not None:
            with self.run.lock:
                self.run.retried.append(f"{method} {url}: {type(error).__name__}")
        return super().increment(method, url, response, error, _pool, _stacktrace)


def retrying_adapter(run):
    retry = CountingRetry(total=1, connect=1, read=1, redirect=0, status=0, other=0, allowed_methods=run.retry_methods,
                          raise_on_status=False, respect_retry_after_header=False)
    retry.run = run
    return HTTPAdapter(max_retries=retry)


class Client(threading.Thread):
    """One user hammering the API until the deadline (or max_ops)."""

    # requests keeps the connect timeout on the socket while it sends the
    # body; an upload waiting for a free upload worker sends nothing until
    # one is free (nginx passes it on unbuffered), so allow for that wait.
    UPLOAD_TIMEOUT = (60, 180)
    TIMEOUT = (5, 60)

    def __init__(self, stack, identity, pool, run, deadline, stop, seed, max_files=10, max_ops=100_000,
                 sizes=(MIN_UPLOAD, MAX_UPLOAD), mix=None):
        super().__init__(daemon=True)
        self.stack = stack
        self.me = identity
        self.pool = pool
        self.run_ = run
        self.deadline = deadline
        self.stop = stop
        self.rnd = random.Random(seed)
        self.max_files = max_files
        self.max_ops = max_ops
        self.sizes = sizes
        self.mix = mix or {"upload": 25, "download": 25, "metadata": 15, "list_files": 12, "delete": 8,
                           "usage": 5, "quota": 3, "bucket_objects": 5, "storage_usage": 2}
        self.session = requests.Session()
        if run.retry_transport:
            self.session.mount("http://", retrying_adapter(run))
        self.seq = 0
        self.base = stack.base_url

    # Plumbing
    def call(self, route, method, path, timeout=None, **kw):
        headers = dict(self.me.headers)
        headers.update(kw.pop("headers", {}))
        start = time.time()
        t0 = time.perf_counter()
        self.run_.begin(self.name, route, start)
        try:
            r = self.session.request(method, self.base + path, headers=headers, timeout=timeout or self.TIMEOUT, **kw)
            _ = r.content
        except requests.RequestException as e:
            outcome = Outcome(route, None, None, time.perf_counter() - t0, start, type(e).__name__ + ": " + str(e)[:200],
                              self.me)
            self.run_.record(outcome)
            return None, outcome
        finally:
            self.run_.end(self.name)
        code = None
        if r.status_code >= 400:
            code = error_code(r)
            if code is None:
                self.run_.fail(f"{route}: {r.status_code} without a JSON error body: {r.text[:120]!r}")
        outcome = Outcome(route, r.status_code, code, time.perf_counter() - t0, start, None, self.me)
        self.run_.record(outcome)
        return r, outcome

    def live(self):
        return [f for f in self.me.files if f.state == "live"]

    def run(self):
        try:
            for _ in range(self.max_ops):
                if self.stop.is_set() or time.time() >= self.deadline:
                    break
                self.step()
        except Exception as e:  # noqa: BLE001 - a bug in the client is a failure, not a hang
            import traceback
            self.run_.fail(f"client {self.me.user[:8]} crashed: {e!r} {traceback.format_exc()[-400:]}")
        finally:
            self.session.close()

    def step(self):
        ops, weights = zip(*self.mix.items())
        op = self.rnd.choices(ops, weights)[0]
        live = self.live()
        if op == "upload" and len([f for f in live if not f.workflow]) >= self.max_files:
            op = "delete"
        if op in ("download", "metadata", "delete") and not [f for f in live if op == "download" or not f.workflow]:
            op = "upload"
        getattr(self, "op_" + op)()

    # Operations
    def new_content(self, size):
        self.seq += 1
        head = struct.pack(">8sQ", uuid.UUID(self.me.user).bytes[:8], self.seq)
        offset = self.rnd.randrange(0, POOL_SIZE - size + 1)
        return head, offset

    def op_upload(self):
        lo, hi = self.sizes
        size = int(math.exp(self.rnd.uniform(math.log(lo), math.log(hi))))
        kind = self.rnd.random()
        workflow = None
        category = self.rnd.choice(["general", "general", "data_source"])
        if kind < 0.05:
            category = "profile_image"
            size = min(size, 512 * KIB)
        elif kind < 0.12:
            workflow = {"workflow_id": str(uuid.uuid4()), "run_id": str(uuid.uuid4()),
                        "direction": self.rnd.choice(["input", "output"]), "workflow_name": "load test"}
            size = min(size, 256 * KIB)
        head, offset = self.new_content(size)
        if category == "profile_image":
            head = PNG_HEAD + head[len(PNG_HEAD):]
        data = self.pool.content(head, offset, size)
        sha = hashlib.sha256(data).hexdigest()
        name = f"load {self.me.user[:8]} #{self.seq} ({self.rnd.randrange(1 << 30):x}).{'png' if category == 'profile_image' else 'bin'}"
        entry = FileEntry(self.me, name, size, head, offset, sha, category, workflow)
        form = {"category": category}
        if workflow:
            form.update(workflow)
        ctype = "image/png" if category == "profile_image" else "application/octet-stream"
        r, verdict = self.call("upload", "POST", "/api/v1/storage/upload", timeout=self.UPLOAD_TIMEOUT,
                               files={"file": (name, data, ctype)}, data=form)
        del data
        if r is not None and r.status_code == 201:
            body = r.json()
            entry.key, entry.object_name = body["object_key"], body["object_name"]
            if body["sha256"] != sha or body["size"] != size or body["original_filename"] != name:
                self.run_.fail(f"upload {name}: answer {body['sha256'][:12]}/{body['size']} != sent {sha[:12]}/{size}")
            self.me.files.append(entry)
            return
        if r is not None and r.status_code == 413 and self.me.near and \
                error_code(r) in ("quota_exceeded", "too_many_files"):
            return
        if r is not None and r.status_code == 413:
            self.run_.fail(f"upload {size} bytes: 413 {error_code(r)} in an organization far from its quota")
            return
        if r is not None and 400 <= r.status_code < 500 and r.status_code != 429:
            self.run_.fail(f"upload {size} bytes ({category}): {r.status_code} {error_code(r)}")
            return
        # 5xx or no answer: the upload may or may not have happened; the
        # listing decides afterwards (a worker's own 503 means it did not).
        entry.state = "uncertain"
        self.me.files.append(entry)

    def pick(self, deletable=False):
        live = [f for f in self.live() if not (deletable and f.workflow)]
        return self.rnd.choice(live) if live else None

    def op_download(self):
        f = self.pick()
        if f is None:
            return
        roll = self.rnd.random()
        if roll < 0.15:
            return self.download_presigned(f)
        if roll < 0.30 and f.size > 2:
            return self.download_range(f)
        headers = {}
        if f.workflow and self.rnd.random() < 0.5:
            headers = {"Authorization": None}  # the workflow key alone is a capability
        r, _ = self.call("download", "GET", "/api/v1/objects/download", params={"objectKey": f.key}, headers=headers)
        self.check_download(f, r, "download")

    def check_download(self, f, r, route, expected=None):
        if r is None:
            return
        if r.status_code in (200, 206):
            digest = hashlib.sha256(r.content).hexdigest()
            want = f.sha256 if expected is None else hashlib.sha256(expected).hexdigest()
            if digest != want:
                self.run_.fail(f"{route} of {f.key}: CORRUPTED ({len(r.content)} bytes, sha256 {digest[:12]} != {want[:12]})")
        elif r.status_code == 404:
            self.run_.fail(f"{route} of {f.key}: 404 for an acknowledged file (LOST?)")
        elif r.status_code < 500 and r.status_code != 429:
            self.run_.fail(f"{route} of {f.key}: unexpected {r.status_code} {error_code(r)}")

    def download_range(self, f):
        a = self.rnd.randrange(0, f.size - 1)
        b = self.rnd.randrange(a, min(f.size, a + 2 * MIB))
        r, _ = self.call("download_range", "GET", "/api/v1/objects/download", params={"objectKey": f.key},
                         headers={"Range": f"bytes={a}-{b}"})
        if r is not None and r.status_code == 200:
            self.run_.fail(f"range download of {f.key}: 200 instead of 206")
            return
        expected = self.pool.content(f.head, f.offset, f.size)[a:b + 1]
        self.check_download(f, r, "download_range", expected=expected)

    def download_presigned(self, f):
        r, _ = self.call("presigned_download", "GET",
                         f"/api/v1/storage/objects/{f.object_name}/presigned-url", params={"expires_in": 300}) \
            if not f.workflow else (None, None)
        if r is None or r.status_code != 200:
            if r is not None and r.status_code == 404:
                self.run_.fail(f"presigned-url of {f.key}: 404 for an acknowledged file (LOST?)")
            return
        url = r.json()["url"]
        start, t0 = time.time(), time.perf_counter()
        try:
            d = self.session.get(url, timeout=self.TIMEOUT)
            _ = d.content
        except requests.RequestException as e:
            self.run_.record(Outcome("presigned_download", None, None, time.perf_counter() - t0, start, repr(e), self.me))
            return
        self.run_.record(Outcome("presigned_download", d.status_code, error_code(d) if d.status_code >= 400 else None,
                                 time.perf_counter() - t0, start, None, self.me))
        self.check_download(f, d, "presigned_download")

    def op_metadata(self):
        f = self.pick(deletable=True)
        if f is None:
            return
        r, _ = self.call("metadata", "GET", f"/api/v1/storage/objects/{f.object_name}/metadata")
        if r is None:
            return
        if r.status_code == 200:
            body = r.json()
            if (body["sha256"], body["size"], body["object_key"]) != (f.sha256, f.size, f.key):
                self.run_.fail(f"metadata of {f.key}: {body['sha256'][:12]}/{body['size']} != {f.sha256[:12]}/{f.size}")
        elif r.status_code == 404:
            self.run_.fail(f"metadata of {f.key}: 404 for an acknowledged file (LOST?)")
        elif r.status_code < 500:
            self.run_.fail(f"metadata of {f.key}: unexpected {r.status_code} {error_code(r)}")

    def op_list_files(self):
        params = {"page_size": self.rnd.choice([10, 20, 100]), "sort": self.rnd.choice(["uploaded_at", "size", "original_filename"]),
                  "order": self.rnd.choice(["asc", "desc"])}
        r, _ = self.call("list_files", "GET", "/api/v1/storage/files", params=params)
        if r is None or r.status_code != 200:
            if r is not None and r.status_code < 500 and r.status_code != 429:
                self.run_.fail(f"list files: unexpected {r.status_code} {error_code(r)}")
            return
        total = r.json()["pagination"]["total"]
        live = sum(1 for f in self.me.files if f.state == "live")
        unsure = sum(1 for f in self.me.files if f.state in ("uncertain", "deleting"))
        if not live - unsure <= total <= live + unsure:
            self.run_.fail(f"list files: total {total}, expected {live} (± {unsure} uncertain)")

    def op_delete(self):
        f = self.pick(deletable=True)
        if f is None:
            return
        r, _ = self.call("delete", "DELETE", f"/api/v1/storage/objects/{f.object_name}")
        if r is not None and r.status_code == 204:
            f.state = "deleted"
        elif r is not None and r.status_code == 404:
            self.run_.fail(f"delete of {f.key}: 404 for an acknowledged file (LOST?)")
            f.state = "deleted"
        elif r is not None and r.status_code < 500 and r.status_code != 429:
            self.run_.fail(f"delete of {f.key}: unexpected {r.status_code} {error_code(r)}")
        elif r is None or r.status_code >= 500:
            f.state = "deleting"

    def simple(self, route, path, params=None):
        r, _ = self.call(route, "GET", path, params=params)
        if r is not None and r.status_code != 200 and r.status_code < 500 and r.status_code != 429:
            self.run_.fail(f"{route}: unexpected {r.status_code} {error_code(r)}")

    def op_usage(self):
        self.simple("usage", "/api/v1/storage/usage")

    def op_quota(self):
        self.simple("quota", "/api/v1/storage/quota")

    def op_bucket_objects(self):
        self.simple("bucket_objects", f"/api/v1/storage/buckets/{self.stack.bucket}/objects", {"limit": 50})

    def op_storage_usage(self):
        self.simple("storage_usage", "/api/v1/objects/storage-usage")


class Population:
    """The organizations and users of a stack, kept across scenarios."""

    NEAR_PLAN = {"quota": "24MiB", "max_file_size": "8MiB", "max_files": 60}

    def __init__(self, stack, orgs=20, clients=64, near_orgs=4, seed=1):
        self.stack = stack
        self.rnd = random.Random(seed)
        self.pool = Pool()
        self.org_ids = [str(uuid.uuid4()) for _ in range(orgs)]
        self.near = set(self.org_ids[:near_orgs])
        self.identities = [Identity(stack, self.org_ids[i % orgs], near=self.org_ids[i % orgs] in self.near)
                           for i in range(clients)]
        self.setup_done = False

    def setup(self):
        """Creates the accounts, puts the near organizations on the small
        plan and fills them to ~80% with files owned by their first user."""
        if self.setup_done:
            return
        s = requests.Session()
        for ident in self.identities:
            r = s.get(self.stack.base_url + "/api/v1/storage/quota", headers=ident.headers, timeout=30)
            r.raise_for_status()
        for org in self.near:
            set_plan(self.stack, org, "near")
        run = Run("setup")
        for org in sorted(self.near):
            owner = next(i for i in self.identities if i.org == org)
            c = Client(self.stack, owner, self.pool, run, time.time() + 3600, threading.Event(), self.rnd.random())
            for size in (7 * MIB, 7 * MIB, 5 * MIB):
                c.sizes = (size, size + 1)
                c.op_upload()
        s.close()
        bad = run.failures + [f"{o.route} {o.status} {o.code}" for o in run.outcomes if o.status != 201]
        if bad:
            raise RuntimeError("population setup failed: " + "; ".join(bad[:5]))
        self.setup_done = True

    def run_load(self, run, duration, clients=None, stop=None, max_files=10, seed=None, sizes=(MIN_UPLOAD, MAX_UPLOAD),
                 mix=None, during=None):
        """Runs `clients` client threads (default: all identities) for
        `duration` seconds; `during(stop_event)` runs in this thread meanwhile
        (the fault injector). Joins everything before returning."""
        stop = stop or threading.Event()
        idents = self.identities if clients is None else self.identities[:clients]
        deadline = time.time() + duration
        rnd = random.Random(seed if seed is not None else self.rnd.random())
        threads = [Client(self.stack, ident, self.pool, run, deadline, stop, rnd.random(), max_files=max_files,
                          sizes=sizes, mix=mix) for ident in idents]
        run.started = time.time()
        for t in threads:
            t.start()
        try:
            if during:
                during(stop, deadline)
        finally:
            for t in threads:
                t.join(timeout=max(1, deadline - time.time()) + 240)
            stop.set()
            stuck = [t for t in threads if t.is_alive()]
            if stuck:
                run.fail(f"{len(stuck)} clients still busy 240 s after the deadline (a request hangs)")
            run.ended = time.time()
        return run

    def entries(self):
        return [f for ident in self.identities for f in ident.files]


def verify_files(population, run, download=True, parallel=8):
    """Afterwards, with the stack quiet: resolves uncertain uploads and deletes
    from each user's listing, then proves every live file is listed, has the
    same hash in its metadata and (with download) downloads to its hash.
    Failures go to `run`; returns the number of files checked."""
    stack = population.stack
    session = requests.Session()
    checked = 0
    to_download = []
    for ident in population.identities:
        listed = {}
        for page in range(1, 10_000):
            r = session.get(stack.base_url + "/api/v1/storage/files", headers=ident.headers,
                            params={"page": page, "page_size": 100, "sort": "uploaded_at", "order": "asc"}, timeout=60)
            if r.status_code != 200:
                run.fail(f"verify: listing {ident.user[:8]} page {page}: {r.status_code} {r.text[:100]}")
                break
            body = r.json()
            for item in body["files"]:
                if item["original_filename"] in listed:
                    run.fail(f"verify: {item['original_filename']} listed twice")
                listed[item["original_filename"]] = item
            if page >= body["pagination"]["total_pages"]:
                break
        by_name = {f.name: f for f in ident.files}
        for name, item in listed.items():
            f = by_name.get(name)
            if f is None:
                run.fail(f"verify: {ident.user[:8]} has a file no client uploaded: {name}")
                continue
            if f.state == "uncertain":
                f.key, f.object_name = item["object_key"], item["object_name"]
                f.state = "live"
            elif f.state == "deleting":
                f.state = "live"
            elif f.state == "deleted":
                run.fail(f"verify: {f.key} was deleted (204) but is still listed")
                continue
            if (item["sha256"], item["size"]) != (f.sha256, f.size):
                run.fail(f"verify: {f.key} listed with {item['sha256'][:12]}/{item['size']}, uploaded {f.sha256[:12]}/{f.size}")
        for f in ident.files:
            if f.state in ("uncertain", "deleting") and f.name not in listed:
                f.state = "deleted"
            elif f.state == "live" and f.name not in listed:
                run.fail(f"verify: LOST {f.key} ({f.size} bytes): acknowledged with 201, not listed")
                f.state = "deleted"
        ident.files = [f for f in ident.files if f.state == "live"]
        for f in ident.files:
            checked += 1
            if download:
                to_download.append(f)
    session.close()

    def fetch(f):
        s = requests.Session()
        try:
            for _ in range(50):  # the download route is rate limited per address
                r = s.get(stack.base_url + "/api/v1/objects/download", params={"objectKey": f.key},
                          headers=f.owner.headers, timeout=120)
                if r.status_code != 429:
                    break
                time.sleep(0.2)
            if r.status_code != 200:
                return f"verify: download of {f.key}: {r.status_code} {r.text[:100]}"
            digest = hashlib.sha256(r.content).hexdigest()
            if digest != f.sha256:
                return f"verify: CORRUPTED {f.key}: sha256 {digest[:12]} != {f.sha256[:12]}"
        except requests.RequestException as e:
            return f"verify: download of {f.key}: {e!r}"
        finally:
            s.close()
        return None

    if to_download:
        with ThreadPoolExecutor(max_workers=parallel) as ex:
            for problem in ex.map(fetch, to_download):
                if problem:
                    run.fail(problem)
    return checked
