#!/usr/bin/env python3
"""Download benchmark: Depot's download path next to same-run baselines.

A benchmark, not a test: it never fails for being slow; it prints figures.

1. Throughput of one 256 MiB file (an S3 multipart, SSE-C encrypted object)
   downloaded through Depot (signed link -> worker -> X-Accel-Redirect ->
   nginx streams from the store) next to a direct SigV4-presigned GET from
   the store with the same SSE-C headers. Runs alternate, median of 9 each
   (of 3, one run's noise moved the ratio by ±0.06 on the same build);
   target ratio >= 0.95.
2. Requests/s of signed-link downloads of a 4 KiB file next to nginx serving
   a 4 KiB static file, with wrk (32 connections, 10 s each), and next to a
   direct presigned SSE-C GET of the same object from the store (the floor
   every download shares). The download route's per-address rate limit is
   lifted for this case (wrk runs from one address) and restored afterwards.

Both clients are curl/wrk, so the Python process costs neither side CPU.

Usage: bench_downloads.py [--quick] [--no-build] [--keep]
Starts its own stack with the release build (runs `make build` first).
`scripts/bench.py` calls `run_cases(stack, record, …)` on its own stack.
"""
import argparse
import base64
import hashlib
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
from bench_common import Caller, ensure_wrk, wrk  # noqa: E402
from depot_stack import Stack  # noqa: E402

import requests  # noqa: E402

MiB = 1 << 20


# -- what the server does, done again here --------------------------------------

def sse_c_headers(stack, object_key):
    """The SSE-C headers of one object: HKDF-SHA256(master key, salt
    "depot-sse-c-v1", info = object key), as the worker derives them."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    with open(stack.path("secrets", "master.keys")) as f:
        first = f.readline().split()
    master = bytes.fromhex(first[1])
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"depot-sse-c-v1", info=object_key.encode()).derive(master)
    return {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }, key


def store_presigned_get(stack, object_key, key, expires_in=3600):
    """A SigV4 presigned GET straight from the store (SSE-C headers signed, never in the query)."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=stack.store_endpoint, aws_access_key_id=stack.access_key,
                      aws_secret_access_key=stack.secret_key, region_name="us-east-1",
                      verify=getattr(stack, "store_cert", None) if stack.store_tls else None,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = s3.generate_presigned_url("get_object", ExpiresIn=expires_in, Params={
        "Bucket": stack.bucket, "Key": object_key, "SSECustomerAlgorithm": "AES256", "SSECustomerKey": key})
    assert "customer-key=" not in url, "the SSE-C key must never be in a query string"
    return url


# -- clients -----------------------------------------------------------------------

def curl_download(url, headers=None, cacert=None):
    """(bytes, seconds, status) of one GET to /dev/null with curl."""
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    if cacert:
        cmd += ["--cacert", cacert]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout.split()
    return int(out[1]), float(out[2]), int(out[0])


# -- the stack -----------------------------------------------------------------------

def upload(stack, caller, name, path):
    with open(path, "rb") as f:
        r = requests.post(stack.base_url + "/api/v1/storage/upload", headers=caller.headers,
                          files={"file": (name, f, "application/octet-stream")}, timeout=600)
    r.raise_for_status()
    return r.json()


def signed_link(stack, caller, file):
    r = requests.get(f"{stack.base_url}/api/v1/storage/objects/{file['object_name']}/presigned-url",
                     headers=caller.headers, params={"expires_in": 6 * 3600}, timeout=30)
    r.raise_for_status()
    return r.json()["url"]


class RateLimitLifted:
    """Removes the download route's limit_req from the rendered nginx config
    (wrk's 32 connections share one address) and puts it back afterwards."""

    def __init__(self, stack):
        self.stack = stack
        self.path = stack.path("nginx", "depot-server.conf")

    def _reload(self):
        self.stack.reload_nginx()
        time.sleep(1.5)  # old workers finish, new ones take the listening socket

    def __enter__(self):
        with open(self.path) as f:
            self.original = f.read()
        lifted, n = re.subn(r"^\s*limit_req zone=depot_downloads[^\n]*\n", "", self.original, flags=re.M)
        if n:
            with open(self.path, "w") as f:
                f.write(lifted)
            self._reload()
        return self

    def __exit__(self, *exc):
        with open(self.path, "w") as f:
            f.write(self.original)
        self._reload()


# -- the cases -------------------------------------------------------------------------

def case_throughput(stack, record, size, runs):
    caller = Caller(stack, role="member")
    work = tempfile.mkdtemp(prefix="depot-bench-dl-")
    try:
        path = os.path.join(work, "big.bin")
        with open(path, "wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        t = time.perf_counter()
        file = upload(stack, caller, "big.bin", path)
        print(f"    uploaded {size // MiB} MiB in {time.perf_counter() - t:.1f} s (etag {file['etag']})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    headers, key = sse_c_headers(stack, file["object_key"])
    depot_url = signed_link(stack, caller, file)
    direct_url = store_presigned_get(stack, file["object_key"], key)
    cacert = getattr(stack, "store_cert", None) if stack.store_tls else None

    def measure(name, url, hdrs=None, ca=None):
        got, seconds, status = curl_download(url, hdrs, ca)
        assert status == 200 and got == size, (name, status, got)
        return got / seconds / 1e6

    measure("warm-up depot", depot_url)
    measure("warm-up direct", direct_url, headers, cacert)
    depot, direct = [], []
    for i in range(runs):  # alternate, so drift hits both sides alike
        depot.append(measure("depot", depot_url))
        direct.append(measure("direct", direct_url, headers, cacert))
        print(f"    run {i + 1}: depot {depot[-1]:8.1f} MB/s   direct {direct[-1]:8.1f} MB/s", flush=True)
    record(f"download {size // MiB} MiB: Depot vs direct presigned GET", statistics.median(depot),
           statistics.median(direct), "MB/s", ">= 0.95", note=f"median of {runs}, alternating, curl")


def case_small_requests(stack, record, seconds, static_url=None):
    if not ensure_wrk():
        print("    wrk not available; small-file case skipped", flush=True)
        return
    caller = Caller(stack, role="member")
    blob = os.urandom(4096)
    work = tempfile.mkdtemp(prefix="depot-bench-4k-")
    try:
        path = os.path.join(work, "small.bin")
        with open(path, "wb") as f:
            f.write(blob)
        file = upload(stack, caller, "small.bin", path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    link = signed_link(stack, caller, file)
    sse, key = sse_c_headers(stack, file["object_key"])
    direct = store_presigned_get(stack, file["object_key"], key)
    if static_url is None:
        # nginx serves the run directory's docs dir under /docs/ with no worker.
        with open(stack.path("docs", "bench-4k.bin"), "wb") as f:
            f.write(blob)
        static_url = stack.base_url + "/docs/bench-4k.bin"
    for url in (link, static_url):
        r = requests.get(url, timeout=30)
        assert r.status_code == 200 and len(r.content) == 4096, (url, r.status_code)
    with RateLimitLifted(stack):
        static_rps, static_bad, static_p99 = wrk(static_url, seconds)
        depot_rps, depot_bad, depot_p99 = wrk(link, seconds)
        # Not asked for, but it says where the time goes: every Depot
        # download is also one SSE-C GET from the store.
        store_rps, store_bad, store_p99 = wrk(direct, seconds, headers=sse)
    for name, rps, bad, p99 in (("nginx static", static_rps, static_bad, static_p99),
                                ("Depot signed", depot_rps, depot_bad, depot_p99),
                                ("store direct", store_rps, store_bad, store_p99)):
        print(f"    {name}: {rps:9.0f} req/s  p99 {p99:7.2f} ms  non-2xx {bad}", flush=True)
    note = f"wrk -c32 {seconds}s; download rate limit lifted"
    if depot_bad or static_bad or store_bad:
        note += f"; non-2xx: depot {depot_bad}, static {static_bad}, store {store_bad}"
    record("GET signed download 4 KiB vs nginx static 4 KiB", depot_rps, static_rps, "req/s", "(none)", note=note)
    record("GET signed download 4 KiB vs direct store GET", depot_rps, store_rps, "req/s", "(none)", note=note)


def run_cases(stack, record, quick=False, static_url=None):
    """Entry point for scripts/bench.py: both cases on a running stack."""
    size = 64 * MiB if quick else 256 * MiB
    print(f"downloads: {size // MiB} MiB through Depot vs straight from the store", flush=True)
    case_throughput(stack, record, size, runs=3 if quick else 9)
    print("downloads: signed 4 KiB downloads vs nginx static 4 KiB (wrk, 32 connections)", flush=True)
    case_small_requests(stack, record, 3 if quick else 10, static_url)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="64 MiB and 3 s runs (smoke test of the script)")
    ap.add_argument("--no-build", action="store_true", help="skip `make build`")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["make", "-C", REPO, "build"], check=True)
    results = []

    def record(case, depot, baseline, unit, target, note=""):
        results.append((case, depot, baseline, unit, depot / baseline if baseline else float("nan"), target, note))

    work = tempfile.mkdtemp(prefix="depot-bench-downloads-")
    stack = Stack(os.path.join(work, "run"), workers=2, build="release", store_memory_limit=None)
    try:
        stack.start()
        run_cases(stack, record, quick=args.quick)
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'case':<52} {'depot':>10} {'baseline':>10} {'unit':<6} {'ratio':>6}  target  note")
    for case, depot, baseline, unit, ratio, target, note in results:
        print(f"{case:<52} {depot:>10.1f} {baseline:>10.1f} {unit:<6} {ratio:>6.3f}  {target:<7} {note}")


if __name__ == "__main__":
    main()
