"""The reliability scenarios: plain load, and load under one fault each.

Each scenario function takes a running stack (scripts/depot_stack.py) and a
`Population` (load.py), runs traffic while it injects its fault, and returns
the `Run` with its failures judged. `settle_and_check` then verifies every
acknowledged file and runs the consistency check. Used by run.py (`make
reliability`) and by Tests/integration/test_reliability.py.

What counts as a failure (anything not listed is one):

- load: any 5xx, any transport error, a 413 in an organization far from its
  quota, any wrong byte, any acknowledged file missing.
- kill_workers (SIGKILL of a random worker every 2 s): the request a killed
  worker was handling gets nginx's `502` with its JSON error page (code
  service_unavailable). Those are expected, but at most one per kill (a worker handles one
  request at a time; a second cut request means nginx or the supervisor lost
  queued work). Files that got 201 must all be intact; an upload cut by a
  kill may or may not exist (the listing decides), never half. A GET or
  DELETE sent on the keep-alive connection nginx closes after a cut
  upload's error page is retried once (`retry_idempotent`); uploads never are.
- store_restart: `503 store_unavailable` (worker) or `503
  service_unavailable` (nginx proxying a download) from the moment the store
  stops until STORE_SETTLE_SECONDS after it is back; a download that was
  streaming when the store died ends short of its Content-Length (nginx had
  sent the headers; the client can tell, and nothing wrong is delivered). Any
  5xx outside that window is a failure.
- long_write_lock (another process holds BEGIN IMMEDIATE past the busy
  timeout): writes wait and then get `503 database_unavailable` with
  Retry-After, only while the lock is held (+1 s); never 500; reads keep
  working.
- nginx_reload (SIGHUP every second during uploads): nothing may fail. A
  request sent on a keep-alive connection just as the old nginx worker closes
  it gets no answer at all; the client retries it once (as browsers do), and
  the retries are counted. A retried upload that had in fact been processed
  would appear twice in the listing, which verify_files reports.
- depot_reload (SIGHUP to the supervisor every 2 s): nothing may fail; the
  old workers finish the request in hand.
- gc_during_load (`depotctl gc` back to back with an orphan grace of 0):
  nothing may fail and no acknowledged file may lose its object.
- disk_full: see `disk_full`.
- resumable_kills (tus uploads, SIGKILL of a random worker every 2 s): each
  client resumes from the offset the server reports (HEAD) after any cut
  request, 409 (the killed worker's lock being taken over) or 5xx; every
  upload must complete within its time with the file's exact bytes.

Under every scenario: every error is JSON, no acknowledged file is lost or
changed, and the consistency check holds afterwards.
"""
import base64
import hashlib
import os
import random
import threading
import shutil
import signal
import subprocess
import sys
import time
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import consistency  # noqa: E402
import database_oracle  # noqa: E402
import depotctl_cli  # noqa: E402
from depot_stack import IDEMPOTENT_METHODS  # noqa: E402
from load import KIB, MIB, Outcome, Population, Run, Verdicts, error_code, verify_files  # noqa: E402

STORE_SETTLE_SECONDS = 3.0
# How long after the settle time store_restart waits for a success at most.
STORE_RECOVERY_SECONDS = 30.0
DOWNLOAD_ROUTES = ("download", "download_range", "presigned_download")
LOCK_SETTLE_SECONDS = 1.0

# Plans the reliability stacks define; "near" is where organizations sit close to their quota.
PLANS = {"near": Population.NEAR_PLAN}
# Uploads above 5 MiB go through S3 multipart (production: 32 MiB), so the
# faults also hit multipart uploads in flight.
EXTRA_CONFIG = "[store]\nmultipart_threshold = 5MiB\npart_size = 5MiB\n"


def nginx_gateway_error(o):
    """nginx's answer when the worker died mid-request: 502 (or 503/504) with
    its own JSON error page, code service_unavailable."""
    return o.status in (502, 503, 504) and o.code == "service_unavailable"


def base_verdict(o):
    """Verdicts every scenario shares; None when the scenario must decide."""
    if o.status is None:
        return Verdicts.FAILURE, f"transport error: {o.error}"
    if o.status == 429:
        return Verdicts.THROTTLED, None
    if o.status < 500:
        return Verdicts.OK, None
    return None


def judged_by(disrupted):
    """A judge: the shared verdicts first, then DISRUPTED where the scenario's
    fault explains the answer (`disrupted(outcome)`), else a failure."""
    def judge(o):
        v = base_verdict(o)
        if v:
            return v
        if disrupted(o):
            return Verdicts.DISRUPTED, None
        return Verdicts.FAILURE, f"{o.status} {o.code}"
    return judge


def wait_for_workers(stack, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(stack.worker_pids()) >= stack.worker_count:
            return True
        time.sleep(0.1)
    return False


# Scenarios --------------------------------------------------------------

def load(stack, population, duration, clients=None, name="load"):
    run = Run(name)
    population.run_load(run, duration, clients=clients)
    run.finish()
    return run


def kill_every(interval, stop, deadline, candidates, rnd, kills):
    """SIGKILL of one of `candidates()` every `interval` s until `stop` or
    half a second before `deadline`; appends (time, pid) to `kills`."""
    while not stop.wait(interval) and time.time() < deadline - 0.5:
        pids = candidates()
        if not pids:
            continue
        pid = rnd.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
            kills.append((time.time(), pid))
        except ProcessLookupError:
            pass


def kill_workers(stack, population, duration, clients=None, interval=2.0, seed=7):
    kills = []

    def during(stop, deadline):
        kill_every(interval, stop, deadline, stack.worker_pids, random.Random(seed), kills)

    run = retry_idempotent(Run("kill_workers", kill_judge(kills)))
    population.run_load(run, duration, clients=clients, during=during)
    run.finish()
    check_kills(stack, run, kills, "workers", "requests")
    return run


def retry_idempotent(run):
    """An upload cut by a kill ends its connection after nginx's error page
    (the answer said keep-alive; nginx then closes while discarding the rest
    of the body): the client's next request on that connection is closed
    unanswered and retried once, as HTTP clients do for idempotent methods.
    Uploads are never retried, so each cut one still counts."""
    run.retry_transport = True
    run.retry_methods = IDEMPOTENT_METHODS
    return run


def kill_judge(kills):
    """Under worker kills: nginx's gateway error, or (an upload worker killed
    while nginx still passed it the body, unbuffered) a cut upload connection,
    is the kill's doing; the rest as usual."""
    gateway = judged_by(nginx_gateway_error)

    def judge(o):
        if o.status is None and o.route == "upload" and kills:
            return Verdicts.DISRUPTED, None
        return gateway(o)
    return judge


def check_kills(stack, run, kills, killed, cut):
    """At most one request cut per kill, at least one kill, every worker back."""
    run.notes.append(f"{len(kills)} {killed} killed, {run.disrupted} {cut} cut, "
                     f"{len(run.retried)} requests retried after their connection closed unanswered")
    if run.disrupted > len(kills):
        run.fail(f"{run.disrupted} requests cut by {len(kills)} {killed} kills (at most one each)")
    if not kills:
        run.fail(f"no {killed} were killed")
    if not wait_for_workers(stack):
        run.fail(f"the supervisor did not restore {stack.worker_count} workers")


def kill_upload_workers(stack, population, duration, clients=8, interval=1.5, seed=11):
    """SIGKILL of an upload worker every 1.5 s while uploads of 6 to 8 MiB
    stream through it in S3 multipart parts (EXTRA_CONFIG's 5 MiB threshold):
    each kill cuts at most the one upload in flight, the client gets JSON (or
    a cut connection), and the reservation, the parts and the multipart upload
    it held are gone after gc; the API pool is never hit."""
    kills = []
    api_before = set(stack.worker_pids()) - set(stack.upload_worker_pids())

    def during(stop, deadline):
        kill_every(interval, stop, deadline, stack.upload_worker_pids, random.Random(seed), kills)

    run = retry_idempotent(Run("kill_upload_workers", kill_judge(kills)))
    mix = {"upload": 70, "download": 10, "metadata": 10, "delete": 10}
    population.run_load(run, duration, clients=clients, during=during, mix=mix, sizes=(6 * MIB, 8 * MIB))
    run.finish()
    check_kills(stack, run, kills, "upload workers", "uploads")
    api_after = set(stack.worker_pids()) - set(stack.upload_worker_pids())
    if api_before - api_after:
        run.fail(f"API workers {sorted(api_before - api_after)} died while only upload workers were killed")
    return run


def store_restart(stack, population, duration, clients=None, down=4.0):
    window = {}

    def judge(o):
        if o.status is None and o.route in DOWNLOAD_ROUTES and "IncompleteRead" in (o.error or "") and \
                "stop" in window and o.start <= window["stop"] <= o.start + o.latency + 1:
            # A download streaming when the store died: nginx had sent the
            # headers (with Content-Length) and can only cut the connection;
            # the client sees a short body, never a wrong one.
            return Verdicts.DISRUPTED, None
        v = base_verdict(o)
        if v:
            return v
        if o.status == 503 and o.code in ("store_unavailable", "service_unavailable") and "stop" in window:
            # A request that started before the store went away may still hit it.
            if window["stop"] - 5 <= o.start + o.latency and o.start <= window["up"] + STORE_SETTLE_SECONDS:
                return Verdicts.DISRUPTED, None
        return Verdicts.FAILURE, f"{o.status} {o.code}"

    def during(stop, deadline):
        try:
            if stop.wait(max(1.0, duration * 0.3)):
                return
            window["stop"] = time.time()
            stack.stop_store()
            stop.wait(down)
            window["restart"] = time.time()
            stack.start_store()
            window["up"] = time.time()
            # Load goes on for a while after the store is back, and (within
            # STORE_RECOVERY_SECONDS) until a request begun after it settled
            # has succeeded: clients busy with slow requests begun during the
            # outage do not count as "nothing succeeds", a hang still fails.
            if stop.wait(STORE_SETTLE_SECONDS + max(3.0, duration * 0.4)):
                return
            limit = time.time() + STORE_RECOVERY_SECONDS
            while not successes_after(window["up"] + STORE_SETTLE_SECONDS) and time.time() < limit:
                if stop.wait(0.2):
                    return
            window["waiting"] = run.waiting()
        finally:
            stop.set()

    def successes_after(t):
        """The requests begun after `t` that succeeded."""
        with run.lock:
            return [o for o in run.outcomes if o.start > t and o.status is not None and o.status < 300]

    run = Run("store_restart", judge)
    # A download the store cut off mid-body leaves its keep-alive connection
    # closed by nginx; the client's next request on it finds it gone before
    # any answer, and is retried once on a fresh connection (as browsers and
    # HTTP libraries do). Retries are counted in the report.
    run.retry_transport = True
    # The clients' deadline is far; `during` ends the scenario.
    population.run_load(run, duration + 120, clients=clients, during=during)
    if "up" not in window:
        window.setdefault("stop", run.started)
        window["up"] = time.time()
    run.finish()
    after = successes_after(window["up"] + STORE_SETTLE_SECONDS)
    run.notes.append(f"store down {window['up'] - window['stop']:.1f}s, {run.disrupted} requests got 503 (or a cut download), "
                     f"{len(after)} succeeded after it came back")
    if not after:
        run.fail(f"no request succeeded after the store came back; {STORE_RECOVERY_SECONDS:.0f} s later the clients "
                 f"were waiting for: {', '.join(window.get('waiting', [])) or 'nothing'}")
    return run


def long_write_lock(stack, population, duration, clients=None, hold=None):
    """Another process takes BEGIN IMMEDIATE and keeps it past the busy timeout."""
    busy_ms = read_busy_timeout(stack)
    hold = hold or busy_ms / 1000 + 3
    window = {}

    # A write may fail if it was under way at any moment of the lock (an
    # upload that began before it commits while it is held).
    judge = judged_by(lambda o: o.status == 503 and o.code == "database_unavailable" and "start" in window and
                      o.start <= window["end"] + LOCK_SETTLE_SECONDS and o.start + o.latency >= window["start"] - 1)

    def during(stop, deadline):
        if stop.wait(max(1.0, duration * 0.25)):
            return
        p = subprocess.Popen(database_oracle.hold_write_lock_command(stack, hold), stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            window["start"] = time.time()
            if line.strip() != "locked":
                window["error"] = "the lock holder did not get the lock"
            p.wait(timeout=hold + 30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            window["end"] = time.time()

    run = Run("long_write_lock", judge)
    population.run_load(run, duration, clients=clients, during=during)
    run.finish()
    if "error" in window:
        run.fail(window["error"])
    if "start" in window:
        during_lock = [o for o in run.outcomes if window["start"] <= o.start <= window["end"]]
        writes_ok = [o for o in during_lock if o.route in ("upload", "delete") and o.status in (201, 204)
                     and o.start + o.latency < window["end"] - 0.2]
        reads_ok = [o for o in during_lock if o.route in ("metadata", "list_files", "download") and o.status == 200]
        slowest = max((o.latency for o in during_lock), default=0)
        run.notes.append(f"lock held {window['end'] - window['start']:.1f}s (busy timeout {busy_ms} ms): "
                         f"{run.disrupted} writes got 503, {len(reads_ok)} reads succeeded, slowest {slowest:.1f}s")
        if writes_ok:
            run.fail(f"{len(writes_ok)} writes succeeded while another process held the write lock")
    else:
        run.fail("the lock was never taken")
    return run


def nginx_reload(stack, population, duration, clients=None, interval=1.0):
    reloads = []

    def during(stop, deadline):
        for _ in range(int(duration / interval) + 1):
            if stop.wait(interval) or time.time() >= deadline - 0.5:
                break
            stack.reload_nginx()
            reloads.append(time.time())

    run = Run("nginx_reload")
    run.retry_transport = True
    mix = {"upload": 55, "download": 15, "metadata": 10, "delete": 15, "list_files": 5}
    population.run_load(run, duration, clients=clients, during=during, mix=mix)
    run.finish()
    run.notes.append(f"{len(reloads)} reloads, {len(run.retried)} requests retried after the connection closed unanswered")
    # Each reload closes the idle keep-alive connections once; a request
    # crossing that close on the wire is retried (never answered, so never
    # processed: a processed upload retried would show up twice in verify).

    if stack.processes["nginx"].poll() is not None:
        run.fail("nginx exited")
    return run


def depot_reload(stack, population, duration, clients=None, interval=2.0):
    """SIGHUP to the depot supervisor every 2 s during load: new workers
    start, the old ones finish the request in hand and exit. Nothing may fail."""
    reloads = []

    def during(stop, deadline):
        for _ in range(int(duration / interval) + 1):
            if stop.wait(interval) or time.time() >= deadline - 0.5:
                break
            stack.processes["depot"].send_signal(signal.SIGHUP)
            reloads.append(time.time())

    run = Run("depot_reload")
    population.run_load(run, duration, clients=clients, during=during)
    run.finish()
    run.notes.append(f"{len(reloads)} supervisor reloads")
    if not wait_for_workers(stack):
        run.fail(f"the supervisor did not keep {stack.workers} workers")
    return run


def gc_during_load(stack, population, duration, clients=None):
    """`depotctl gc` back to back during load, with an orphan grace of 0 (the
    hourly timer runs during traffic; grace 0 leaves it no margin): it must
    never take an object a record or an upload in flight still needs."""
    passes = []

    def during(stop, deadline):
        for _ in range(10_000):
            if stop.is_set() or time.time() >= deadline - 0.5:
                break
            report, problems = consistency.run_gc(stack)
            passes.append((report, problems))

    run = Run("gc_during_load")
    population.run_load(run, duration, clients=clients, during=during)
    run.finish()
    deleted = sum(len((r or {}).get("orphan_objects", [])) for r, _ in passes)
    run.notes.append(f"{len(passes)} gc passes, {deleted} objects deleted as orphans")
    for _, problems in passes:
        for p in problems:
            if "could not delete" not in p:
                run.fail("gc: " + p)
    return run


def read_busy_timeout(stack):
    with open(stack.config_path) as f:
        for line in f:
            if line.strip().startswith("busy_timeout_ms"):
                return int(line.split("=")[1])
    return 5000


# The disk-full scenario has a stack of its own ---------------------------

class MountRefused(Exception):
    pass


def mount_tmpfs(directory, size="2m"):
    os.makedirs(directory, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", directory],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise MountRefused(done.stderr.strip() or f"mount exited {done.returncode}")


def unmount(directory):
    for _ in range(20):
        if subprocess.run(["umount", directory], capture_output=True).returncode == 0:
            return True
        time.sleep(0.25)
    return subprocess.run(["umount", "-l", directory], capture_output=True).returncode == 0


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def worker_states(stack):
    """pid: the system call each worker waits in (for failure reports)."""
    names = {"7": "poll", "43": "accept", "288": "accept4", "72": "fcntl", "0": "read", "23": "select", "232": "epoll_wait"}
    states = {}
    for pid in stack.worker_pids():
        try:
            with open(f"/proc/{pid}/syscall") as f:
                nr = f.read().split()[0]
            states[pid] = names.get(nr, nr)
        except OSError as e:
            states[pid] = repr(e)
    try:
        states["owners"] = [r["owner_pid"] for r in depotctl_cli.reservations(stack)]
    except Exception as e:  # noqa: BLE001 - part of a failure report
        states["owners"] = repr(e)
    return states


def wait_for_no_reservations(stack, timeout):
    """Waits until no live worker holds a reservation; returns how many are
    left. (A dead worker's reservations are the clean-up pass's job: the
    consistency check runs it.)"""
    deadline = time.time() + timeout
    while True:
        owners = [r["owner_pid"] for r in depotctl_cli.reservations(stack)]
        left = sum(1 for pid in owners if pid_alive(pid))
        if left == 0 or time.time() >= deadline:
            return left
        time.sleep(0.1)


def disk_full(make_stack, root, keep=False, attempts=400):
    """A stack whose SQLite directory is a 2 MiB tmpfs, filled up until writes
    fail. Expected: uploads get `503 database_unavailable` JSON with
    Retry-After (never 500, never a 201 that is not kept), reads keep working,
    a delete either happens or leaves the file whole, no failed upload leaves
    a record, and once space returns everything works and is consistent.
    Returns the Run, or None when mounting is not permitted (skipped)."""
    run_dir = os.path.join(root, "disk-full-" + uuid.uuid4().hex[:6])
    data = os.path.join(run_dir, "data")
    try:
        mount_tmpfs(data)
    except (MountRefused, FileNotFoundError) as e:
        shutil.rmtree(run_dir, ignore_errors=True)
        return None, f"skipped: cannot mount a tmpfs ({e})"
    stack = None
    full = {}

    judge = judged_by(lambda o: o.status == 503 and o.code == "database_unavailable" and "from" in full and
                      full["from"] <= o.start <= full.get("to", float("inf")))

    run = Run("disk_full", judge)
    filler = os.path.join(data, "filler")
    try:
        stack = make_stack(run_dir)
        stack.start()
        run.started = time.time()
        pop = Population(stack, orgs=2, clients=2, near_orgs=0)
        me = pop.identities[0]
        session = requests.Session()

        def upload(i, size=2 * KIB):
            name = f"full-{i}-{'x' * 180}.bin"
            data_bytes = os.urandom(size)
            start, t0 = time.time(), time.perf_counter()
            try:
                r = session.post(stack.base_url + "/api/v1/storage/upload", headers=me.headers,
                                 files={"file": (name, data_bytes)}, timeout=60)
            except requests.RequestException as e:
                run.fail(f"upload {i}: {e!r}")
                return name, None, None
            run.record(Outcome("upload", r.status_code, error_code(r) if r.status_code >= 400 else None,
                               time.perf_counter() - t0, start, None, me))
            return name, r, data_bytes

        kept = {}
        for i in range(5):
            name, r, body = upload(i)
            if r is None or r.status_code != 201:
                raise RuntimeError(f"disk_full: uploads fail before the disk is full: {r and r.text}")
            kept[name] = (r.json(), body)

        # Fill the filesystem, leaving a little room.
        st = os.statvfs(data)
        free = st.f_bavail * st.f_frsize
        full["from"] = time.time()
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 96 * KIB))
        failed_names, codes = [], {}
        first_failure = None
        for i in range(5, 5 + attempts):
            name, r, body = upload(i)
            if r is None:
                continue
            if r.status_code == 201:
                kept[name] = (r.json(), body)
                if first_failure is not None and i - first_failure > 40:
                    break
                continue
            failed_names.append(name)
            is_json = r.headers.get("Content-Type", "").startswith("application/json")
            key = f"{r.status_code} {r.json()['error']['code'] if is_json else r.text[:40]}"
            codes[key] = codes.get(key, 0) + 1
            if r.status_code != 503 or not is_json or r.json()["error"]["code"] != "database_unavailable" or \
                    "Retry-After" not in r.headers:
                run.fail(f"upload on a full disk: {r.status_code} {r.text[:150]} (want 503 database_unavailable)")
            if first_failure is None:
                first_failure = i
            if len(failed_names) >= 15:
                break
        if first_failure is None:
            run.fail(f"the disk never filled up in {attempts} uploads")
        run.notes.append(f"first failure after {first_failure} uploads; answers {codes}")

        # Reads work on a full disk; a delete happens or leaves the file whole.
        some_name, (some, some_body) = next(iter(kept.items()))
        r = session.get(stack.base_url + f"/api/v1/storage/objects/{some['object_name']}/metadata", headers=me.headers, timeout=30)
        if r.status_code != 200:
            run.fail(f"metadata on a full disk: {r.status_code} {r.text[:100]}")
        r = session.get(stack.base_url + "/api/v1/storage/files", headers=me.headers, timeout=30)
        if r.status_code != 200:
            run.fail(f"listing on a full disk: {r.status_code} {r.text[:100]}")
        victim_name, (victim, _) = list(kept.items())[-1]
        r = session.delete(stack.base_url + f"/api/v1/storage/objects/{victim['object_name']}", headers=me.headers, timeout=30)
        if r.status_code == 204:
            kept.pop(victim_name)
        elif r.status_code != 503 or r.json()["error"]["code"] != "database_unavailable":
            run.fail(f"delete on a full disk: {r.status_code} {r.text[:150]}")

        # A worker that dies while the disk is full is replaced, and its
        # replacement serves reads: a full disk never takes the API down.
        victim_pid = stack.worker_pids()[0]
        os.kill(victim_pid, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline and (victim_pid in stack.worker_pids() or len(stack.worker_pids()) < stack.workers):
            time.sleep(0.05)
        time.sleep(0.5)
        if len(stack.worker_pids()) < stack.workers:
            run.fail("a worker killed on the full disk was not replaced")
        reads = [session.get(stack.base_url + f"/api/v1/storage/objects/{some['object_name']}/metadata",
                             headers=me.headers, timeout=30).status_code for _ in range(20)]
        if set(reads) != {200}:
            run.fail(f"reads after a worker restart on the full disk: {reads}")

        # Space returns: the service recovers without a restart.
        os.unlink(filler)
        full["to"] = time.time()
        for i in range(1000, 1005):
            name, r, body = upload(i)
            if r is None or r.status_code != 201:
                run.fail(f"upload after space returned: {r.status_code if r is not None else None} {r.text[:150] if r is not None else ''}")
            else:
                kept[name] = (r.json(), body)

        # The reservations of uploads that failed on the full disk are given
        # back by their workers within seconds, not at their TTL.
        held = wait_for_no_reservations(stack, 5.0)
        if held:
            run.fail(f"{held} reservations still held 5 s after space returned; workers: {worker_states(stack)}")

        # Nothing half-written: exactly the acknowledged files exist, whole.
        listed = {}
        for page in range(1, 100):
            r = session.get(stack.base_url + "/api/v1/storage/files", headers=me.headers,
                            params={"page": page, "page_size": 100}, timeout=30)
            body = r.json()
            listed.update({f["original_filename"]: f for f in body["files"]})
            if page >= body["pagination"]["total_pages"]:
                break
        for name in failed_names:
            if name in listed:
                run.fail(f"an upload refused on the full disk has a record: {name[:20]}")
        for name, (meta, content) in kept.items():
            if name not in listed:
                run.fail(f"LOST {meta['object_key']}: acknowledged with 201, not listed")
                continue
            r = session.get(stack.base_url + "/api/v1/objects/download", params={"objectKey": meta["object_key"]},
                            headers=me.headers, timeout=60)
            if r.status_code != 200 or r.content != content:
                run.fail(f"download of {meta['object_key']}: {r.status_code}, {'same' if r.content == content else 'different'} bytes")
        session.close()
        run.finish()
        run.consistency = consistency.check(stack, since=run.started)
        return run, None
    finally:
        if stack is not None:
            stack.stop()
        if os.path.exists(filler):
            os.unlink(filler)
        if not unmount(data):
            print(f"warning: could not unmount {data}", file=sys.stderr)
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)


# After every scenario -----------------------------------------------------

def settle_and_check(stack, population, run, download=True):
    """Waits for the stack to be whole again, proves every acknowledged file
    is intact, then runs the consistency check (which runs gc)."""
    wait_for_workers(stack)
    verify_files(population, run, download=download)
    run.consistency = consistency.check(stack, since=run.started)
    return run


def resumable_kills(stack, population, duration, clients=16, interval=2.0, seed=13, give_up=90.0):
    """`clients` threads each run tus uploads back to back (create, then
    PATCH chunks of 1 to 4 MiB, resuming from the server's offset after any
    failure) for `duration` seconds while a random worker of either pool is
    SIGKILLed every `interval` s; then every file is checked byte for byte.
    The clients are organizations of their own (`population` is not used)."""
    run = Run("resumable_kills")
    rnd = random.Random(seed)
    kills, done = [], []
    stop = threading.Event()
    deadline = time.time() + duration
    base = stack.base_url + "/api/v1/storage/uploads"

    def client(index):
        r = random.Random(seed * 1000 + index)
        org, user = str(uuid.uuid4()), str(uuid.uuid4())
        auth = {"Authorization": "Bearer " + stack.token(user, org, ttl=3600), "Tus-Resumable": "1.0.0"}
        session = requests.Session()
        while time.time() < deadline:
            size = r.randint(2 * MIB, 12 * MIB)
            data = r.randbytes(size)
            started = time.time()
            location, offset = None, 0
            while True:
                if time.time() - started > give_up:
                    run.fail(f"client {index}: an upload of {size} bytes did not finish in {give_up:.0f}s (at {offset})")
                    return
                try:
                    if location is None:
                        name = base64.b64encode(f"r{index}.bin".encode()).decode()
                        a = session.post(base, headers=dict(auth, **{"Upload-Length": str(size), "Upload-Metadata": "filename " + name}),
                                         timeout=30)
                        run.record(Outcome("tus_create", a.status_code, error_code(a), 0, time.time(), None, None))
                        if a.status_code == 201:
                            location = a.headers["Location"]
                        elif a.status_code < 500 and a.status_code != 409:
                            run.fail(f"client {index}: creation answered {a.status_code} {a.text[:200]}")
                            return
                        continue
                    chunk = r.randint(1 * MIB, 4 * MIB)
                    a = session.patch(location, data=data[offset:offset + chunk], timeout=60, headers=dict(
                        auth, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}))
                    run.record(Outcome("tus_patch", a.status_code, error_code(a), 0, time.time(), None, None))
                    if a.status_code == 204:
                        offset = int(a.headers["Upload-Offset"])
                        if offset == size:
                            done.append((location, hashlib.sha256(data).hexdigest(), size, auth))
                            break
                        continue
                    if a.status_code < 500 and a.status_code != 409:
                        run.fail(f"client {index}: PATCH at {offset} answered {a.status_code} {a.text[:200]}")
                        return
                except requests.RequestException:
                    pass  # the worker taking the request was killed: resume below
                time.sleep(0.2)
                try:
                    h = session.head(location, headers=auth, timeout=30) if location else None
                    if h is not None and h.status_code == 200:
                        offset = int(h.headers["Upload-Offset"])
                        if offset == size:
                            done.append((location, hashlib.sha256(data).hexdigest(), size, auth))
                            break
                except requests.RequestException:
                    pass

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    killer = threading.Thread(target=kill_every, args=(interval, stop, deadline, stack.worker_pids, rnd, kills), daemon=True)
    for t in threads + [killer]:
        t.start()
    for t in threads:
        t.join(duration + give_up + 60)
    stop.set()
    killer.join(10)
    run.ended = time.time()
    wait_for_workers(stack)
    # A creation whose answer a kill cut off made an upload no client knows
    # of (it got none, and created another): it holds its reservation until
    # it expires, as tus wants. Abort those, as an admin would; an abandoned
    # upload with bytes in it would be a client that gave up, a failure.
    lost = 0
    for u in depotctl_cli.run_json(stack, "uploads", "list")["uploads"]:
        if u["state"] != "open":
            continue
        if u["offset"] > 0:
            run.fail(f"upload {u['id']} was left at {u['offset']} of {u['length']} bytes")
        depotctl_cli.run(stack, "uploads", "abort", u["id"])
        lost += 1
    for location, sha256, size, auth in done:
        info = requests.get(location, headers=auth, timeout=30).json()
        f = info.get("file") or {}
        if f.get("sha256") != sha256 or f.get("size") != size:
            run.fail(f"{location}: the file is {f.get('size')} bytes {f.get('sha256')}, sent {size} bytes {sha256}")
            continue
        link = requests.get(stack.base_url + f"/api/v1/storage/objects/{f['object_name']}/presigned-url", headers=auth, timeout=30)
        got = requests.get(link.json()["url"], timeout=120)
        if hashlib.sha256(got.content).hexdigest() != sha256:
            run.fail(f"{location}: downloaded bytes differ from the upload's")
    run.notes.append(f"{len(done)} resumable uploads completed, {len(kills)} workers killed, "
                     f"{lost} uploads whose creation answer was cut aborted")
    if not kills:
        run.fail("no worker was killed")
    if len(done) < clients:
        run.fail(f"only {len(done)} uploads completed for {clients} clients")
    return run
