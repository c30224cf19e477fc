#!/usr/bin/env python3
"""`make bench`: Depot against the limits of its parts, as ratios measured
in one run. A benchmark, not a test: it never fails for being slow; it
prints a table and writes bench/results.json.

Each Depot figure sits next to a baseline measured in the same run on the
same machine: a C libfcgi hello-world behind the same nginx, nginx serving
a static file, or the store itself. The store runs without the test
stacks' 256 MiB GOMEMLIMIT, as a production store would: under that cap
SeaweedFS's collector ran without pause during large transfers (a direct
1 GiB PUT at 104 MiB/s, 175-207 MiB/s without it), which hid Depot's own
cost behind a slow store.

PostgreSQL rows (scripts/bench_postgresql.py): the metadata routes against
the same routes on SQLite, scale at 1M records, and two nodes under load.

Antivirus row (scripts/bench_antivirus.py): 1 MiB uploads with clamd
scanning on vs off, on this run's stack reconfigured for the scanned half.
Events row (scripts/bench_events.py): API p99 with webhook delivery to an
endpoint that hangs vs no endpoint, on this run's stack reconfigured.

Usage: bench.py [--quick] [--only CASE[,CASE...]]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from bench_common import Caller, ensure_wrk, wrk_rounds  # noqa: E402
from database_oracle import seed_files  # noqa: E402
from depot_stack import Stack, wait_for  # noqa: E402
from depotctl_cli import set_plan  # noqa: E402

import requests  # noqa: E402

RESULTS = []


def record(case, depot, baseline, unit, target, note=""):
    ratio = depot / baseline if baseline else float("nan")
    RESULTS.append({"case": case, "depot": round(depot, 3), "baseline": round(baseline, 3), "unit": unit,
                    "ratio": round(ratio, 3), "target": target, "note": note})
    print(f"  {case:<48} depot {depot:>12.2f}  baseline {baseline:>12.2f} {unit:<8} ratio {ratio:6.3f}  (target {target})",
          flush=True)


def build_hello(work):
    exe = os.path.join(work, "hello_fcgi")
    subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(REPO, "scripts", "bench", "hello_fcgi.c"), "-lfcgi"],
                   check=True)
    return exe


def worker_stats(stack):
    """(peak RSS MiB over the workers, total CPU seconds of the workers)."""
    peak, cpu = 0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in stack.worker_pids():
        try:
            status = open(f"/proc/{pid}/status").read()
            peak = max(peak, int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
        except FileNotFoundError:
            pass
    return peak, cpu


def direct_put_session(stack):
    """A presigned PUT straight to the store with the same SSE-C treatment
    Depot gives (so the store does the same work)."""
    s3 = stack.s3()
    key = os.urandom(32)
    import base64
    sse = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
           "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
           "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode()}

    def url(name):
        return s3.generate_presigned_url("put_object", Params={
            "Bucket": stack.bucket, "Key": f"bench-direct/{name}", "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": key}, ExpiresIn=3600)
    return url, sse


def case_metadata(stack, hello_url, seconds, admin):
    h = {"Authorization": "Bearer " + admin.token}
    print("metadata routes vs C libfcgi hello-world behind the same nginx (wrk, 32 connections)", flush=True)
    if not ensure_wrk():
        print("    wrk not available; metadata case skipped", flush=True)
        return
    files_url = stack.base_url + "/api/v1/storage/files?page_size=20"
    # The fair baseline for a page of files: the C responder sending as many bytes.
    files_bytes = len(requests.get(files_url, headers=h, timeout=30).content)
    # Rounds of every case in turn, medians of each: a ratio of two runs
    # taken 40 s apart measured the machine's drift as much as Depot.
    rounds, slice_seconds = 3, max(2, seconds // 2)
    urls = {"hello": (hello_url, None), "sized": (f"{hello_url}?size={files_bytes}", None),
            "quota": (stack.base_url + "/api/v1/storage/quota", h), "files": (files_url, h),
            "meta": (stack.base_url + f"/api/v1/storage/objects/{admin.probe_name}/metadata", h)}
    runs = wrk_rounds(urls, rounds, slice_seconds)

    def median(name, field):
        return statistics.median(getattr(r, field) for r in runs[name])
    for name in ("quota", "files", "meta"):
        refused = sum(r.non2xx for r in runs[name])
        if refused:
            print(f"    warning: {refused} non-2xx responses from {urls[name][0]}", flush=True)
    note = f"median of {rounds} rounds of {slice_seconds} s, cases in turn"
    hello_rps, hello_p99 = median("hello", "rps"), median("hello", "p99_ms")
    record("GET /quota req/s", median("quota", "rps"), hello_rps, "req/s", ">= 0.8", note)
    record("GET /files?page_size=20 (10k files) req/s", median("files", "rps"), hello_rps, "req/s", "info (vs the small body)", note)
    record(f"GET /files?page_size=20 vs a {files_bytes}-byte C body", median("files", "rps"), median("sized", "rps"), "req/s", ">= 0.7",
           note)
    record("GET /objects/{name}/metadata req/s", median("meta", "rps"), hello_rps, "req/s", ">= 0.8", note)
    record("GET /quota p99", median("quota", "p99_ms"), hello_p99, "ms", "info", note)
    record("GET /files p99", median("files", "p99_ms"), hello_p99, "ms", "info", note)


def streamed_upload(url, token, path, name):
    """POST a file as multipart/form-data without reading it into memory, via curl."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                          "-H", f"Authorization: Bearer {token}", "-F", f"file=@{path};filename={name}", url],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1])


def streamed_upload_key(url, token, path, name):
    """Like streamed_upload, and returns the new file's object key."""
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code} %{time_total}", "-H", f"Authorization: Bearer {token}",
                          "-F", f"file=@{path};filename={name}", url], capture_output=True, text=True, check=True).stdout
    body, tail = out.rsplit("\n", 1)
    status, seconds = tail.split()
    key = json.loads(body).get("object_key", "") if status == "201" else ""
    return int(status), float(seconds), key


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def process_cpu(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except FileNotFoundError:
            pass
    return total


def streamed_put(url, headers, path):
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-T", path]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1])


def case_big_upload(stack, admin, big_bytes, work):
    print(f"{big_bytes >> 20} MiB upload through Depot vs direct PUT (same client: curl), worker peak RSS", flush=True)
    put_url, sse = direct_put_session(stack)
    path = os.path.join(work, "big.bin")
    with open(path, "wb") as f:
        chunk = os.urandom(8 << 20)
        for _ in range(big_bytes // len(chunk)):
            f.write(chunk)
    direct_times, depot_times = [], []
    for attempt in range(2):
        status, t = streamed_put(put_url(f"big-{attempt}"), sse, path)
        assert status == 200, status
        direct_times.append(t)
        status, t, key = streamed_upload_key(stack.base_url + "/api/v1/storage/upload", admin.token, path, "big.bin")
        assert status == 201, status
        depot_times.append(t)
    mib = big_bytes / (1 << 20)
    record(f"upload {int(mib)} MiB MiB/s", mib / min(depot_times), mib / min(direct_times), "MiB/s", ">= 0.9")
    peak, _ = worker_stats(stack)
    record("worker peak RSS during big upload", peak, 64, "MiB", "<= 1.0 (64 MiB)")
    os.unlink(path)
    # Download it back: the workers' CPU next to nginx's for the same bytes.
    _, worker_before = worker_stats(stack)
    nginx_before = process_cpu(children(stack.processes["nginx"].pid))
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                          "-H", f"Authorization: Bearer {admin.token}",
                          stack.base_url + "/api/v1/objects/download?objectKey=" + key],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "200", out
    gib = int(out[1]) / (1 << 30)
    _, worker_after = worker_stats(stack)
    nginx_after = process_cpu(children(stack.processes["nginx"].pid))
    record("worker CPU per downloaded GiB (vs nginx's)", (worker_after - worker_before) / gib,
           max(1e-3, (nginx_after - nginx_before) / gib), "cpu-s", "~0 (bytes bypass the worker)")


def case_small_uploads(stack, admin, count, work):
    print(f"1 MiB x{count} uploads through Depot vs direct PUT (same client: curl)", flush=True)
    put_url, sse = direct_put_session(stack)
    path = os.path.join(work, "small.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(1 << 20))
    # Rounds of 25 that alternate, so drift (the store's or the machine's)
    # hits both sides alike.
    direct_seconds = depot_seconds = 0.0
    for start in range(0, count, 25):
        batch = range(start, min(count, start + 25))
        t = time.perf_counter()
        for i in batch:
            assert streamed_put(put_url(f"small-{i}"), sse, path)[0] == 200
        direct_seconds += time.perf_counter() - t
        t = time.perf_counter()
        for i in batch:
            assert streamed_upload(stack.base_url + "/api/v1/storage/upload", admin.token, path, f"s{i}.bin")[0] == 201
        depot_seconds += time.perf_counter() - t
    record(f"upload 1 MiB x{count} files/s", count / depot_seconds, count / direct_seconds, "files/s", ">= 0.9",
           "rounds of 25, alternating")


def tus_upload(stack, caller, data, chunk):
    """A tus upload of `data` in `chunk`-byte PATCHes (the way tus clients
    send a file); returns the seconds it took and the new file's record."""
    session = requests.Session()
    tus = dict(caller.headers, **{"Tus-Resumable": "1.0.0"})
    t = time.perf_counter()
    r = session.post(stack.base_url + "/api/v1/storage/uploads", timeout=60, headers=dict(
        tus, **{"Upload-Length": str(len(data)), "Upload-Metadata": "filename dHVzLmJpbg=="}))
    assert r.status_code == 201, r.text
    location, view = r.headers["Location"], memoryview(data)
    for offset in range(0, len(data), chunk):
        r = session.patch(location, data=view[offset:offset + chunk], timeout=600, headers=dict(
            tus, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}))
        assert r.status_code == 204, r.text
    seconds = time.perf_counter() - t
    return seconds, session.get(location, headers=caller.headers, timeout=60).json()["file"]


def case_tus_upload(stack, caller, size, chunk, work):
    print(f"{size >> 20} MiB tus upload in {chunk >> 20} MiB chunks vs direct PUT, worker peak RSS", flush=True)
    put_url, sse = direct_put_session(stack)
    path = os.path.join(work, "tus.bin")
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    direct_times, tus_times = [], []
    for attempt in range(2):
        status, t = streamed_put(put_url(f"tus-{attempt}"), sse, path)
        assert status == 200, status
        direct_times.append(t)
        t, record_ = tus_upload(stack, caller, data, chunk)
        assert record_["sha256"] == hashlib.sha256(data).hexdigest()
        tus_times.append(t)
    mib = size / (1 << 20)
    record(f"tus upload {int(mib)} MiB in {chunk >> 20} MiB chunks MiB/s", mib / min(tus_times), mib / min(direct_times),
           "MiB/s", ">= 0.8")
    # The store's own floor for the same requests: a multipart upload of
    # `chunk`-byte parts straight to the store, with the same SSE-C work.
    s3, key = stack.s3(), os.urandom(32)
    sse_args = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    t = time.perf_counter()
    started = s3.create_multipart_upload(Bucket=stack.bucket, Key="bench-direct/parts", **sse_args)
    parts = []
    for number, offset in enumerate(range(0, size, chunk), start=1):
        answer = s3.upload_part(Bucket=stack.bucket, Key="bench-direct/parts", UploadId=started["UploadId"], PartNumber=number,
                                Body=data[offset:offset + chunk], **sse_args)
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    s3.complete_multipart_upload(Bucket=stack.bucket, Key="bench-direct/parts", UploadId=started["UploadId"],
                                 MultipartUpload={"Parts": parts}, **sse_args)
    record(f"tus upload vs direct {chunk >> 20} MiB store parts (boto3)", mib / min(tus_times), mib / (time.perf_counter() - t),
           "MiB/s", "info (the store's cost per part)")
    peak, _ = worker_stats(stack)
    record("worker peak RSS during tus upload", peak, 64, "MiB", "<= 1.0 (64 MiB)")
    os.unlink(path)


def p99_ms(times):
    times = sorted(times)
    return times[min(len(times) - 1, int(len(times) * 0.99))]


def quota_latencies(session, stack, caller, until):
    """/quota latencies (ms), one request after another, until `until()` is true."""
    times = []
    while not until():
        t = time.perf_counter()
        r = session.get(stack.base_url + "/api/v1/storage/quota", headers=caller.headers, timeout=60)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
        time.sleep(0.01)
    return times


def case_quota_during_uploads(stack, caller, upload_bytes, uploads, work):
    print(f"GET /quota p99 while {uploads} x {upload_bytes >> 20} MiB uploads run, vs idle", flush=True)
    path = os.path.join(work, "concurrent.bin")
    with open(path, "wb") as f:
        chunk = os.urandom(8 << 20)
        for _ in range(upload_bytes // len(chunk)):
            f.write(chunk)
    s = requests.Session()
    idle_until = time.time() + 8
    idle = quota_latencies(s, stack, caller, lambda: time.time() > idle_until)
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                               f"Authorization: Bearer {caller.token}", "-F", f"file=@{path};filename=c{i}.bin",
                               stack.base_url + "/api/v1/storage/upload"], stdout=subprocess.PIPE, text=True)
             for i in range(uploads)]
    time.sleep(0.5)  # the uploads are under way
    busy = quota_latencies(s, stack, caller, lambda: all(p.poll() is not None for p in procs))
    statuses = [p.communicate()[0] for p in procs]
    os.unlink(path)
    assert statuses == ["201"] * uploads, statuses
    record("GET /quota p99 during uploads vs idle", p99_ms(busy), p99_ms(idle), "ms", "<= 3.0",
           f"{len(busy)} requests during, {len(idle)} idle")


def case_refused_bodies(stack, work, clients=20, body_bytes=1 << 30):
    print(f"{clients} concurrent unauthenticated {body_bytes >> 30} GiB uploads with Expect: 100-continue: "
          "bytes nginx writes to its temp directory", flush=True)
    path = os.path.join(work, "refused.bin")
    with open(path, "wb") as f:
        f.truncate(body_bytes)  # sparse: curl reads zeros, the disk holds nothing
    temp = stack.path("nginx", "client_body")

    def temp_bytes():
        total = 0
        for root, _, files in os.walk(temp):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except FileNotFoundError:
                    pass
        return total

    def nginx_written():
        total = 0
        for pid in children(stack.processes["nginx"].pid):
            try:
                io = open(f"/proc/{pid}/io").read()
                total += int(re.search(r"write_bytes: (\d+)", io).group(1))
            except (FileNotFoundError, AttributeError):
                pass
        return total

    written_before = nginx_written()
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_upload}",
                               "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                               "-F", f"file=@{path};filename=r{i}.bin", stack.base_url + "/api/v1/storage/upload"],
                              stdout=subprocess.PIPE, text=True) for i in range(clients)]
    peak = 0
    while any(p.poll() is None for p in procs):
        peak = max(peak, temp_bytes())
        time.sleep(0.02)
    answers = [p.communicate()[0].split() for p in procs]
    os.unlink(path)
    os.sync()
    written = max(peak, nginx_written() - written_before)
    assert all(a[0] == "401" for a in answers), answers
    record(f"refused bodies: {clients} x {body_bytes >> 30} GiB unauthenticated, nginx temp bytes",
           written / (1 << 20), 1, "MiB", "<= 1.0 (1 MiB)",
           f"bytes the clients sent: {sum(int(float(a[1])) for a in answers)}")


def scale_latencies(stack, small, small_n, large, large_n, rounds=30):
    """Median latency (ms) of the same requests for two callers, one with
    `small_n` file records and one with `large_n`, taken in turn (a, b, a,
    b...) so whatever else the machine does at the time weighs on both alike."""
    s = requests.Session()
    base = stack.base_url

    def routes(caller, total):
        last_page = max(1, (total + 19) // 20)
        paths = {
            "GET /files first page": (caller, "/api/v1/storage/files?page_size=20"),
            "GET /files last page": (caller, f"/api/v1/storage/files?page_size=20&page={last_page}"),
            "GET /usage": (caller, "/api/v1/storage/usage"),
            "GET /storage-usage": (caller, "/api/v1/objects/storage-usage"),
        }
        # A member 1 % of the owner's files are shared with (seed_files(share_with=)).
        grantee = getattr(caller, "grantee", None)
        if grantee:
            paths["GET /files?scope=shared first page (1% shared)"] = (grantee, "/api/v1/storage/files?scope=shared&page_size=20")
            paths["GET /files?scope=organization first page"] = (caller, "/api/v1/storage/files?scope=organization&page_size=20")
        return paths
    callers = (routes(small, small_n), routes(large, large_n))
    times = ({}, {})
    for name in callers[0]:
        for _ in range(rounds):
            for side, paths in enumerate(callers):
                caller, path = paths[name]
                t = time.perf_counter()
                r = s.get(base + path, headers=caller.headers, timeout=60)
                times[side].setdefault(name, []).append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
    blob = os.urandom(4096)
    for i in range(15):
        for side, paths in enumerate(callers):
            caller = paths["GET /usage"][0]
            t = time.perf_counter()
            r = s.post(base + "/api/v1/storage/upload", headers=caller.headers, files={"file": (f"u{i}.bin", blob)}, timeout=60)
            times[side].setdefault("POST /upload 4 KiB", []).append((time.perf_counter() - t) * 1000)
            assert r.status_code == 201, r.text
    return tuple({name: sorted(v)[len(v) // 2] for name, v in side.items()} for side in times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test of the benchmark itself)")
    ap.add_argument("--only", default="", help="comma-separated: metadata,uploads,antivirus,events,scale,downloads,postgresql")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    want = lambda c: not only or c in only  # noqa: E731
    seconds = 3 if args.quick else 8
    work = tempfile.mkdtemp(prefix="depot-bench-")
    hello_sock = os.path.join(work, "hello.sock")
    static_dir = os.path.join(work, "static")
    os.makedirs(static_dir)
    with open(os.path.join(static_dir, "4k.bin"), "wb") as f:
        f.write(os.urandom(4096))
    extra = f"""        location = /bench/hello {{ fastcgi_pass unix:{hello_sock}; include /etc/nginx/fastcgi_params; }}
        location = /bench/static4k {{ alias {static_dir}/4k.bin; }}"""
    stack = Stack(os.path.join(work, "run"), workers=2, upload_workers=4, build="release", extra_nginx_locations=extra,
                  store_memory_limit=None, plans={"bench": {"quota": "4TiB", "max_file_size": "5GiB", "max_files": 10000000}})
    hello = None
    started = time.time()
    try:
        stack.start()
        hello = subprocess.Popen([build_hello(work), hello_sock, "2"], start_new_session=True)
        wait_for(lambda: os.path.exists(hello_sock), 10, "hello responder")
        os.chmod(hello_sock, 0o666)
        def bench_plan(org):
            set_plan(stack, org, "bench")

        if want("metadata"):
            admin = Caller(stack)
            bench_plan(admin.org)
            r = requests.post(stack.base_url + "/api/v1/storage/upload", headers=admin.headers,
                              files={"file": ("probe.txt", b"probe")}, timeout=30)
            admin.probe_name = r.json()["object_name"]
            seed_files(stack, admin.org, admin.user, 10_000)
            case_metadata(stack, stack.base_url + "/bench/hello", seconds, admin)
        if want("uploads"):
            up = Caller(stack)
            bench_plan(up.org)
            case_small_uploads(stack, up, 40 if args.quick else 200, work)
            case_big_upload(stack, up, (128 << 20) if args.quick else (1 << 30), work)
            case_tus_upload(stack, up, (128 << 20) if args.quick else (1 << 30), 8 << 20, work)
            case_quota_during_uploads(stack, up, (64 << 20) if args.quick else (512 << 20), 4, work)
            case_refused_bodies(stack, work, body_bytes=(1 << 30))
        if want("antivirus"):
            import bench_antivirus
            bench_antivirus.run_cases(stack, record, work, args.quick, streamed_upload, plan=bench_plan)
        if want("events"):
            import bench_events
            bench_events.run_cases(stack, record, args.quick, plan=bench_plan)
        if want("scale"):
            small_n, large_n = 1_000, (50_000 if args.quick else 1_000_000)
            print(f"scale: {small_n} vs {large_n} file records in one organization (median latency, ms)", flush=True)
            a, b = Caller(stack), Caller(stack)
            a.grantee, b.grantee = Caller(stack, role="member", org=a.org), Caller(stack, role="member", org=b.org)
            bench_plan(a.org)
            bench_plan(b.org)
            seed_files(stack, a.org, a.user, small_n, share_with=a.grantee.user)
            t = time.perf_counter()
            seed_files(stack, b.org, b.user, large_n, share_with=b.grantee.user)
            print(f"    seeded {large_n} records in {time.perf_counter() - t:.1f} s", flush=True)
            la, lb = scale_latencies(stack, a, small_n, b, large_n)
            for name in la:
                record(f"{name} at {large_n} vs {small_n} files", lb[name], la[name], "ms", "<= 1.2")
        if want("postgresql"):
            import bench_postgresql
            bench_postgresql.run_cases(stack, record, work, args.quick, scale_latencies)
        if want("downloads"):
            try:
                import bench_downloads
            except ImportError:
                print("downloads: scripts/bench_downloads.py not present; skipped", flush=True)
            else:
                bench_downloads.run_cases(stack, record, quick=args.quick, static_url=stack.base_url + "/bench/static4k")
    finally:
        if hello:
            os.killpg(hello.pid, 15)
            hello.wait()
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(REPO, "bench"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results.json"), "w") as f:
        json.dump({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": round(time.time() - started),
                   "cases": RESULTS}, f, indent=2)
    print(f"\n{'case':<56} {'depot':>12} {'baseline':>12} {'unit':<8} {'ratio':>7}  target")
    for r in RESULTS:
        print(f"{r['case']:<56} {r['depot']:>12} {r['baseline']:>12} {r['unit']:<8} {r['ratio']:>7}  {r['target']}")
    print(f"\nwritten to bench/results.json ({round(time.time() - started)} s)")


if __name__ == "__main__":
    main()
