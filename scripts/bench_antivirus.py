"""Malware scanning benchmark: 1 MiB uploads with clamd scanning on vs off.

A benchmark, not a test: it never fails for being slow; it prints figures.
`scripts/bench.py` calls `run_cases(stack, record, ...)` on its running
stack: the same 1 MiB file is uploaded `count` times with scanning off and
`count` times with it on ([antivirus], its own clamd with the EICAR
database: scripts/clamd_server.py), in rounds that alternate, each on
just-restarted workers, so drift (the store's or the machine's) hits both
sides alike; finally the stack is put back as it was. The ratio is files/s
on / off (target >= 0.8: clamd spools each stream and scans it after the
last byte, so every file pays one extra round trip and a scan of its bytes).
"""
import os
import time

from bench_common import Caller


def _reconfigure(stack, antivirus):
    """Restarts the stack's workers with scanning on or off (nginx, the store
    and clamd keep running)."""
    stack.antivirus = antivirus
    stack._write_config()
    stack.stop_depot()
    stack.start_depot()


def run_cases(stack, record, work, quick, upload, plan=None):
    """`upload(url, token, path, name)` -> (status, seconds): bench.py's curl upload.
    `plan(org)` puts a caller on a plan large enough for the run."""
    count = 40 if quick else 200
    print(f"antivirus: 1 MiB x{count} uploads with clamd scanning on vs off", flush=True)
    caller = Caller(stack)
    if plan:
        plan(caller.org)
    path = os.path.join(work, "antivirus-1m.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(1 << 20))
    url = stack.base_url + "/api/v1/storage/upload"

    def seconds(tag, numbers):
        t = time.perf_counter()
        for i in numbers:
            status = upload(url, caller.token, path, f"av-{tag}-{i}.bin")[0]
            assert status == 201, f"upload answered {status}"
        return time.perf_counter() - t

    rounds = 4
    was = stack.antivirus
    stack.antivirus = True
    stack.start_antivirus()  # returns once clamd answers PING
    taken = {False: 0.0, True: 0.0}
    try:
        for r in range(rounds):
            numbers = range(r * count // rounds, (r + 1) * count // rounds)
            for scanning in (False, True):
                _reconfigure(stack, scanning)
                taken[scanning] += seconds("on" if scanning else "off", numbers)
    finally:
        _reconfigure(stack, was)
        if not was:
            stack.stop_antivirus()
    record(f"upload 1 MiB x{count} scanned (clamd) vs not, files/s", count / taken[True], count / taken[False], "files/s",
           ">= 0.8", f"{rounds} rounds, alternating")
