"""What the two benchmarks (bench.py, bench_downloads.py) share: the wrk
wrapper, its rounds and the caller identity."""
import collections
import os
import re
import shutil
import subprocess
import uuid

import requests

WrkResult = collections.namedtuple("WrkResult", "rps non2xx p99_ms")


def ensure_wrk():
    if shutil.which("wrk"):
        return True
    print("wrk missing; installing it (apt-get install -y wrk)", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, env=env).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update"], capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, env=env)
    return bool(shutil.which("wrk"))


def wrk(url, seconds, connections=32, headers=None):
    """requests/s, non-2xx/3xx count and p99 latency (ms) from wrk."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else float("nan")
    return WrkResult(rps, int(bad.group(1)) if bad else 0, p99_ms)


def wrk_rounds(targets, rounds, seconds):
    """{name: [WrkResult per round]} for `targets` ({name: (url, headers)}):
    `rounds` rounds of `seconds` each, every target in turn, the order
    reversed every other round. The machine's speed drifts by a third within
    a minute; runs taken far apart would measure the drift."""
    runs = {name: [] for name in targets}
    for r in range(rounds):
        order = list(targets.items()) if r % 2 == 0 else list(targets.items())[::-1]
        for name, (url, headers) in order:
            runs[name].append(wrk(url, seconds, headers=headers))
    return runs


class Caller:
    """A fresh user with a token, in a fresh organization unless `org` names
    one; the account exists once the constructor returns (its first request
    creates it)."""

    def __init__(self, stack, role="admin", ttl=6 * 3600, org=None):
        self.org, self.user = org or str(uuid.uuid4()), str(uuid.uuid4())
        self.token = stack.token(self.user, self.org, role=role, ttl=ttl)
        self.stack = stack
        self.headers = {"Authorization": "Bearer " + self.token}
        r = requests.get(stack.base_url + "/api/v1/storage/quota", headers=self.headers, timeout=30)
        r.raise_for_status()
